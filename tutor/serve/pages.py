"""The few HTML pages `tutor serve` writes itself: login, server full, forbidden.

Self-contained (inline style, no script, nothing fetched from elsewhere), because
they are shown before a login, when nothing else of the server may be read. Every
text is in Korean and English at once: the page is shown before the app, so the
learner has not chosen a language yet. The words are in tutor/ui/i18n.py (`serve.*`).
"""

from __future__ import annotations

from html import escape

from tutor.ui.i18n import t

_STYLE = """
body { background: #0c181f; color: #e8eef2; font-family: sans-serif;
       display: flex; justify-content: center; margin-top: 12vh; }
main { background: #12232d; padding: 2em 2.5em; border-radius: 6px; min-width: 22em; }
h1 { font-size: 1.3em; margin-top: 0; }
label { display: block; margin: 0.8em 0 0.2em; }
input { font-size: 1em; padding: 0.35em; width: 100%; box-sizing: border-box; }
button { margin-top: 1.2em; padding: 0.5em 1.5em; font-size: 1em; }
.error { color: #ff9b9b; }
.en { color: #9fb3c0; }
"""


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def _ko(key: str, **values: object) -> str:
    return t(key, "ko", **values)


def _en(key: str, **values: object) -> str:
    return t(key, "en", **values)


LOGIN_TITLE = f"tutor — {_ko('serve.login')} · {_en('serve.login')}"


def login_page(error: bool = False, name: str = "") -> str:
    """The form: fields `name` and `password`, posted to /login."""
    message = ""
    if error:
        message = (f"<p class=\"error\" id=\"login-error\">{_ko('serve.login_error')}"
                   f"<br><span class=\"en\">{_en('serve.login_error')}</span></p>")
    return _page(LOGIN_TITLE, (
        f"<h1>tutor — {_ko('serve.login')} <span class=\"en\">· {_en('serve.login')}</span></h1>"
        f"{message}"
        "<form method=\"post\" action=\"/login\">"
        f"<label for=\"name\">{_ko('serve.name')} <span class=\"en\">· {_en('serve.name')}</span></label>"
        f"<input id=\"name\" name=\"name\" autocomplete=\"username\" value=\"{escape(name)}\" "
        "required autofocus>"
        f"<label for=\"password\">{_ko('serve.password')} <span class=\"en\">· {_en('serve.password')}</span></label>"
        "<input id=\"password\" name=\"password\" type=\"password\" "
        "autocomplete=\"current-password\" required>"
        f"<button type=\"submit\" id=\"login\">{_ko('serve.login')} · {_en('serve.login')}</button>"
        "</form>"
    ))


def full_page(limit: int) -> str:
    """Shown instead of the app when --max-sessions sessions are open."""
    return _page(f"tutor — {_ko('serve.full')} · {_en('serve.full')}", (
        f"<h1 id=\"server-full\">{_ko('serve.full')} <span class=\"en\">· {_en('serve.full')}</span></h1>"
        f"<p>{_ko('serve.full_text', limit=limit)}"
        f"<br><span class=\"en\">{_en('serve.full_text', limit=limit)}</span></p>"
    ))


def forbidden_page() -> str:
    """A websocket from another site's page (its Origin is not this server)."""
    return _page(f"tutor — {_ko('serve.forbidden')} · {_en('serve.forbidden')}", (
        f"<h1>{_ko('serve.forbidden')} <span class=\"en\">· {_en('serve.forbidden')}</span></h1>"
        f"<p>{_ko('serve.forbidden_text')}"
        f"<br><span class=\"en\">{_en('serve.forbidden_text')}"
        "</span></p>"
    ))
