"""The few HTML pages `tutor serve` writes itself: login, server full, forbidden.

Self-contained (inline style, no script, nothing fetched from elsewhere), because
they are shown before a login, when nothing else of the server may be read. Every
text is in Korean and English at once: the page is shown before the app, so the
learner has not chosen a language yet.
"""

from __future__ import annotations

from html import escape

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


LOGIN_TITLE = "tutor — 로그인 · log in"


def login_page(error: bool = False, name: str = "") -> str:
    """The form: fields `name` and `password`, posted to /login."""
    message = ""
    if error:
        message = ("<p class=\"error\" id=\"login-error\">이름 또는 비밀번호가 틀렸습니다."
                   "<br><span class=\"en\">Wrong name or password.</span></p>")
    return _page(LOGIN_TITLE, (
        "<h1>tutor — 로그인 <span class=\"en\">· log in</span></h1>"
        f"{message}"
        "<form method=\"post\" action=\"/login\">"
        "<label for=\"name\">이름 <span class=\"en\">· name</span></label>"
        f"<input id=\"name\" name=\"name\" autocomplete=\"username\" value=\"{escape(name)}\" "
        "required autofocus>"
        "<label for=\"password\">비밀번호 <span class=\"en\">· password</span></label>"
        "<input id=\"password\" name=\"password\" type=\"password\" "
        "autocomplete=\"current-password\" required>"
        "<button type=\"submit\" id=\"login\">로그인 · log in</button>"
        "</form>"
    ))


def full_page(limit: int) -> str:
    """Shown instead of the app when --max-sessions sessions are open."""
    return _page("tutor — 서버가 가득 찼습니다 · server full", (
        "<h1 id=\"server-full\">서버가 가득 찼습니다 <span class=\"en\">· server full</span></h1>"
        f"<p>이 서버는 세션을 동시에 {limit}개까지 열 수 있는데, 지금 모두 열려 있습니다. "
        "다른 탭을 닫거나 잠시 뒤에 다시 시도해 주세요."
        f"<br><span class=\"en\">This server allows {limit} sessions at once, and all of "
        "them are open. Close another tab or try again in a while.</span></p>"
    ))


def forbidden_page() -> str:
    """A websocket from another site's page (its Origin is not this server)."""
    return _page("tutor — 거부됨 · forbidden", (
        "<h1>거부됨 <span class=\"en\">· forbidden</span></h1>"
        "<p>다른 사이트에서 온 연결은 받지 않습니다."
        "<br><span class=\"en\">Connections from another site's page are refused."
        "</span></p>"
    ))
