"""The app's own words in Korean and English.

Lesson text comes from the lesson file (`Text` objects); everything else the app
says lives here, keyed by a short id, so switching the language (`l`) only has to
re-render. Binding ids (`lesson.next`, ...) double as keys for the footer's short
labels (`label`) and the help screen's longer descriptions (`describe`).
"""

from __future__ import annotations

from dataclasses import replace

LANGS = ("ko", "en")

# id -> (en, ko)
STRINGS: dict[str, tuple[str, str]] = {
    # footer labels (short: the footer has 80 columns for everything)
    "app.lang": ("한국어", "EN"),  # 80 columns: the Korean footer is full
    "app.help": ("help", "도움말"),
    "app.quit": ("quit", "종료"),
    "app.too_small": (
        "The terminal is {w}x{h}: make it larger (80x24) to see every pane",
        "터미널이 {w}x{h}입니다: 모든 창을 보려면 80x24 이상으로 키우세요",
    ),
    "picker.open": ("open", "열기"),
    "picker.down": ("down", "아래"),
    "picker.up": ("up", "위"),
    "picker.back": ("quit", "종료"),
    "picker.reset_progress": ("reset progress", "진도 초기화"),
    "lesson.next": ("next", "다음"),
    "lesson.step": ("stmt", "한줄"),
    "lesson.step_back": ("prev", "이전"),
    "lesson.run": ("run", "실행"),
    "lesson.run_all": ("run all", "끝까지"),
    "lesson.reset": ("reset", "초기화"),
    "lesson.lr": ("lr", "학습률"),
    "lesson.prev_section": ("◀§", "◀§"),
    "lesson.next_section": ("§▶", "§▶"),
    "lesson.log": ("log y", "로그 y"),
    "lesson.view": ("view", "보기"),
    "lesson.clear_runs": ("clear runs", "이전 실행 지우기"),
    "lesson.hint": ("hint", "힌트"),
    "lesson.back": ("back", "뒤로"),
    "lesson.inspect": ("inspect", "살펴보기"),
    "inspector.next_tensor": ("tensor ▶", "텐서 ▶"),
    "inspector.prev_tensor": ("◀ tensor", "◀ 텐서"),
    "inspector.next": ("next", "다음"),
    "inspector.step": ("stmt", "한줄"),
    "inspector.step_back": ("prev", "이전"),
    "inspector.run": ("run", "실행"),
    "inspector.close": ("close", "닫기"),
    "lesson.prose_down": ("text ↓", "본문 ↓"),
    "lesson.prose_up": ("text ↑", "본문 ↑"),
    "lesson.predict": ("predict", "예측"),
    "lesson.edit": ("edit", "고치기"),
    "lesson.backward": ("backward", "역전파"),
    "help.close": ("close", "닫기"),
    # help screen descriptions
    "describe.app.lang": ("switch language (한국어 / English)", "언어 바꾸기 (한국어 / English)"),
    "describe.app.help": ("this help", "이 도움말"),
    "describe.app.quit": ("quit", "종료"),
    "describe.picker.open": ("open the highlighted lesson", "선택한 강의 열기"),
    "describe.picker.down": ("move down", "아래로"),
    "describe.picker.up": ("move up", "위로"),
    "describe.picker.back": ("quit", "종료"),
    "describe.picker.reset_progress": (
        "forget the highlighted lesson's progress (finished, position, lrs tried)",
        "선택한 강의의 진도 지우기 (마침, 위치, 써 본 학습률)",
    ),
    "describe.lesson.next": (
        "next: one iteration inside a loop, else the next cell",
        "다음: 반복문 안에서는 한 번 반복, 아니면 다음 셀",
    ),
    "describe.lesson.step": ("run one statement", "문장 하나 실행"),
    "describe.lesson.step_back": (
        "step back (previous iteration or statement)", "한 단계 뒤로 (이전 반복 또는 문장)",
    ),
    "describe.lesson.run": ("run freely / pause", "계속 실행 / 멈춤"),
    "describe.lesson.reset": ("reset (keeps your learning rate)", "초기화 (학습률은 유지)"),
    "describe.lesson.lr": (
        "edit the learning rate (enter applies, escape cancels)",
        "학습률 바꾸기 (enter 적용, escape 취소)",
    ),
    "describe.lesson.prev_section": ("previous section", "이전 절"),
    "describe.lesson.next_section": ("next section", "다음 절"),
    "describe.lesson.log": ("cost plot: log / linear y axis", "비용 그래프: 로그 / 선형 y축"),
    "describe.lesson.view": (
        "chart pane: cost plot → landscape → autograd graph",
        "차트 창: 비용 그래프 → 비용 지형 → 자동 미분 그래프",
    ),
    "describe.lesson.clear_runs": ("clear the previous runs from the plot", "그래프에서 이전 실행 지우기"),
    "describe.lesson.hint": ("show the next hint of this section", "이 절의 다음 힌트 보기"),
    "describe.lesson.predict": (
        "predict what the next cell prints, then compare",
        "다음 셀의 출력을 예측하고 비교하기",
    ),
    "describe.lesson.edit": (
        "edit this cell and run the lesson again with it",
        "이 셀을 고쳐서 강의를 다시 실행하기",
    ),
    "describe.lesson.backward": (
        "at a backward() call: step the backward pass node by node",
        "backward() 호출에서: 역전파를 노드 하나씩 따라가기",
    ),
    "describe.lesson.prose_down": ("scroll the section text down", "절 본문 아래로"),
    "describe.lesson.prose_up": ("scroll the section text up", "절 본문 위로"),
    "describe.lesson.back": ("back to the lesson list", "강의 목록으로"),
    "describe.lesson.inspect": ("tensor inspector: one tensor whole, live", "텐서 살펴보기: 텐서 하나를 통째로, 실시간으로"),
    "describe.inspector.next_tensor": ("inspect the next tensor", "다음 텐서 살펴보기"),
    "describe.inspector.prev_tensor": ("inspect the previous tensor", "이전 텐서 살펴보기"),
    "describe.inspector.next": (
        "next: one iteration inside a loop, else the next cell", "다음: 루프 안이면 반복 한 번, 아니면 다음 셀",
    ),
    "describe.inspector.step": ("run one statement", "문장 하나 실행"),
    "describe.inspector.step_back": ("one step back", "한 걸음 뒤로"),
    "describe.inspector.run": ("run freely / pause", "계속 실행 / 멈춤"),
    "describe.inspector.close": ("close the inspector", "살펴보기 닫기"),
    "describe.help.close": ("close the help", "도움말 닫기"),
    # picker
    "picker.title": ("tutor: learn PyTorch training step by step", "tutor: PyTorch 학습을 한 단계씩"),
    "picker.empty": ("No lessons found in {dir}", "{dir}에 강의가 없습니다"),
    "picker.errors": ("{n} lesson file(s) could not be read:", "읽지 못한 강의 파일 {n}개:"),
    "picker.finished": ("✓ finished", "✓ 마침"),
    "picker.progress_reset": ("Progress of “{title}” reset", "“{title}” 진도를 초기화했습니다"),
    "picker.legend": ("✓ finished  ▶ last opened", "✓ 마침  ▶ 마지막으로 연 강의"),
    # lesson screen
    "lesson.loading": ("loading torch…", "torch 불러오는 중…"),
    "lesson.section": ("§{n}/{total}", "§{n}/{total}"),
    "lesson.cell": ("cell {n}", "셀 {n}"),
    "lesson.no_cell": ("no code in this lesson", "이 강의에는 코드가 없습니다"),
    "lesson.norun": ("shown only, never run", "보기만 하는 코드 (실행 안 함)"),
    "lesson.other_section": ("(code of §{n})", "(§{n}의 코드)"),
    "lesson.finished": ("Lesson finished. r runs it again.", "강의를 마쳤습니다. r로 다시 실행합니다."),
    "lesson.nothing_to_predict": ("every cell has run", "모든 셀이 실행되었습니다"),
    "lesson.engine_busy": ("still loading torch…", "아직 torch를 불러오는 중…"),
    "lesson.no_hint": ("no hints in this section", "이 절에는 힌트가 없습니다"),
    "lesson.no_more_hints": ("all hints shown", "힌트를 모두 보았습니다"),
    "lesson.hint_label": ("Hint {n}/{total}", "힌트 {n}/{total}"),
    "lesson.reload_error": (
        "The lesson file has errors; it reloads when you save it again:",
        "강의 파일에 오류가 있습니다. 다시 저장하면 새로 읽습니다:",
    ),
    "lesson.fix_file": ("fix the lesson file first", "먼저 강의 파일을 고치세요"),
    "lesson.resumed": (
        "the cells before cell {n} ran again; n runs it",
        "셀 {n} 앞의 셀들을 다시 실행했습니다. n으로 셀 {n}을 실행합니다",
    ),
    "lesson.heading": ("running the cells before §{n}…", "§{n} 앞의 셀을 실행하는 중…"),
    "lesson.resuming": ("bringing you back where you left off…", "지난번 자리로 돌아가는 중…"),
    "lesson.nothing_back": ("nothing to step back to", "되돌아갈 단계가 없습니다"),
    "lesson.runs_cleared": ("previous runs cleared", "이전 실행을 지웠습니다"),
    "lesson.error": ("{type} at line {line}: {message}", "{line}번째 줄에서 {type}: {message}"),
    "lesson.error_recover": ("press r to reset", "r을 눌러 초기화하세요"),
    # faults of the kernel process (lesson code runs there; the app lives on)
    "fault.signal": (
        "The lesson code ended its own process at line {line} (signal {signal}, {name}); the app is fine",
        "{line}번째 줄에서 강의 코드가 자기 프로세스를 끝냈습니다 (시그널 {signal}, {name}). 앱은 괜찮습니다",
    ),
    "fault.exit": (
        "The lesson code ended its own process at line {line} (exit code {code}); the app is fine",
        "{line}번째 줄에서 강의 코드가 자기 프로세스를 끝냈습니다 (종료 코드 {code}). 앱은 괜찮습니다",
    ),
    "fault.died": (
        "The lesson code's process ended at line {line}; the app is fine",
        "{line}번째 줄에서 강의 코드의 프로세스가 끝났습니다. 앱은 괜찮습니다",
    ),
    "fault.unresponsive": (
        "The lesson code stopped answering (a long call near line {line}), so it was stopped",
        "강의 코드가 응답하지 않아 ({line}번째 줄 근처의 긴 호출) 멈췄습니다",
    ),
    "fault.memory": (
        "The lesson code used more than {limit} of memory at line {line} (the limit is --kernel-memory)",
        "{line}번째 줄에서 강의 코드가 메모리를 {limit}보다 많이 쓰려 했습니다 (한도: --kernel-memory)",
    ),
    "lesson.resume": ("last time: §{section}, cell {cell}", "지난번: §{section}, 셀 {cell}"),
    # status line
    "status.idle": ("ready", "준비"),
    "status.running": ("running", "실행 중"),
    "status.running_to": ("running to §{n}", "§{n}까지 실행 중"),
    "status.line": ("line", "줄"),
    "status.paused": ("paused", "멈춤"),
    "status.done": ("done", "끝"),
    "status.error": ("error", "오류"),
    "status.loading": ("loading torch…", "torch 불러오는 중…"),
    "status.cell": ("cell", "셀"),
    "status.iter": ("iter", "반복"),
    "status.cost": ("cost", "비용"),
    # panes
    "pane.code": ("code", "코드"),
    "pane.tensors": ("tensors", "텐서"),
    "pane.plot": ("cost", "비용"),
    "pane.landscape": ("landscape", "비용 지형"),
    "pane.output": ("output", "출력"),
    "tensors.name": ("name", "이름"),
    "tensors.shape": ("shape", "모양"),
    "tensors.value": ("value", "값"),
    "tensors.grad": ("grad", "기울기"),
    "tensors.none": ("no tensors yet", "아직 텐서가 없습니다"),
    "landscape.warn": (
        "lr {lr} > 2/λmax = {crit}: this run will diverge (v shows the landscape)",
        "학습률 {lr} > 2/λmax = {crit}: 이 실행은 발산합니다 (v로 비용 지형을 보세요)",
    ),
    "landscape.empty": (
        "the cost landscape appears here when a training loop starts",
        "학습 루프가 시작되면 여기에 비용 지형이 그려집니다",
    ),
    "landscape.problem.no-cost": (
        "no landscape: this loop does not compute the cost in its own body",
        "지형 없음: 이 루프는 본문에서 비용을 직접 계산하지 않습니다",
    ),
    "landscape.problem.impure": (
        "no landscape: recomputing this loop's cost would change the run",
        "지형 없음: 이 루프의 비용을 다시 계산하면 실행이 바뀝니다",
    ),
    "landscape.problem.no-params": (
        "no landscape: the cost depends on no trainable parameter",
        "지형 없음: 비용이 학습할 파라미터에 의존하지 않습니다",
    ),
    "landscape.problem.unknown-param": (
        "no landscape: the front matter's landscape names a parameter this loop does not use",
        "지형 없음: front matter의 landscape가 이 루프에 없는 파라미터를 가리킵니다",
    ),
    "landscape.problem.failed": (
        "no landscape: computing it failed for this loop",
        "지형 없음: 이 루프에서는 계산하지 못했습니다",
    ),
    "landscape.stable": ("lr {lr} < 2/λmax = {crit}", "학습률 {lr} < 2/λmax = {crit}"),
    "landscape.diverge": (
        "lr {lr} > 2/λmax = {crit}: this run will diverge",
        "학습률 {lr} > 2/λmax = {crit}: 이 실행은 발산합니다",
    ),
    "landscape.direction": ("{name}{share}", "{name}{share}"),
    "landscape.steps": ("steps", "걸음"),
    "landscape.tangent": ("tangent", "접선"),
    "landscape.now": ("now", "지금"),
    # the step (update view) and the inspector
    "pane.step": ("step", "갱신"),
    "update.iteration": ("iter {n}", "반복 {n}"),
    "update.generic": (
        "{optimizer}: torch's own step; the change is before − after",
        "{optimizer}: torch가 계산한 걸음입니다. 변화량은 이전 값 − 이후 값",
    ),
    "inspector.value": ("value", "값"),
    "inspector.grad": ("grad", "기울기"),
    "inspector.mean": ("mean", "평균"),
    "inspector.std": ("std", "표준편차"),
    "inspector.min": ("min", "최소"),
    "inspector.max": ("max", "최대"),
    "inspector.update": ("update (iteration {n}):", "갱신 (반복 {n}):"),
    "inspector.missing": ("no tensor of this name at this point", "지금은 이 이름의 텐서가 없습니다"),
    "inspector.summary": (
        "{n} elements: too many to show whole (up to {limit}); the stats above sum it up",
        "원소 {n}개: 통째로 보여 주기에는 너무 많습니다(최대 {limit}개). 위 통계가 요약입니다",
    ),
    "inspector.nothing": ("no tensors to inspect yet: run a cell first", "아직 살펴볼 텐서가 없습니다: 먼저 셀을 실행하세요"),
    "plot.empty": ("the cost appears here during training", "학습하면 여기에 비용이 그려집니다"),
    "plot.now": ("now", "지금"),
    "plot.lr_mark": ("┆ lr changed", "┆ 학습률 바뀜"),
    "plot.log": ("log", "로그"),
    "plot.hidden": ("{n} non-finite point(s) not drawn", "유한하지 않은 점 {n}개는 그리지 않음"),
    "output.none": ("(nothing printed yet)", "(아직 출력 없음)"),
    "output.expected": ("expected:", "예상 출력:"),
    "output.match": ("✓ matches the expected output", "✓ 예상 출력과 같습니다"),
    "output.mismatch": ("✗ differs from the expected output", "✗ 예상 출력과 다릅니다"),
    "output.hidden": (
        "(expected output hidden until the cell runs: predict it!)",
        "(예상 출력은 셀을 실행한 뒤에 보입니다: 먼저 예측해 보세요!)",
    ),
    "output.differs_at": (
        "line {n}: expected {expected}, got {got}", "{n}번째 줄: 예상 {expected}, 실제 {got}",
    ),
    "output.no_line": ("nothing", "없음"),
    "output.not_own_lr": (
        "Expected output is for the lesson's own lr; this run used {lr}.",
        "예상 출력은 강의 기본 학습률의 결과입니다. 이번 실행의 학습률: {lr}.",
    ),
    "output.not_own_code": (
        "Expected output is for the lesson's own code; this cell or one before it is edited.",
        "예상 출력은 강의 원래 코드의 결과입니다. 이 셀이나 앞 셀을 고쳤습니다.",
    ),
    "output.folded": ("(expected: {n} lines, not compared)", "(예상 출력 {n}줄, 비교 안 함)"),
    "output.truncated": ("(output truncated)", "(출력 일부 생략)"),
    # lr field
    "lr.label": ("lr", "학습률"),
    "lr.placeholder": ("lesson's own", "강의 기본값"),
    "lr.applied": ("learning rate {lr} from the next iteration", "다음 반복부터 학습률 {lr}"),
    "lr.cancelled": ("learning rate unchanged", "학습률 그대로"),
    "lr.empty": ("type a number, e.g. 0.01", "숫자를 입력하세요, 예: 0.01"),
    "lr.not_number": ("not a number: {text}", "숫자가 아닙니다: {text}"),
    "lr.not_positive": ("must be greater than 0", "0보다 커야 합니다"),
    "lr.not_finite": ("must be a finite number", "유한한 수여야 합니다"),
    # teacher's view (`tutor class`)
    "class.refresh": ("refresh", "새로 고침"),
    "class.lang": ("한국어", "EN"),
    "class.quit": ("quit", "종료"),
    "describe.class.refresh": ("read the learners' state files again", "학습자 상태 파일 다시 읽기"),
    "describe.class.lang": ("switch language (한국어 / English)", "언어 바꾸기 (한국어 / English)"),
    "describe.class.quit": ("quit", "종료"),
    "class.title": ("Class: {n} learners in {dir}", "수업: 학습자 {n}명, {dir}"),
    "class.empty": ("No learners yet in {dir}", "아직 {dir}에 학습자가 없습니다"),
    "class.col.name": ("learner", "학습자"),
    "class.col.place": ("lesson · section", "강의 · 절"),
    "class.col.finished": ("done", "마침"),
    "class.col.active": ("active", "최근 활동"),
    "class.col.diverged": ("diverged", "발산"),
    "class.col.predictions": ("predictions", "예측"),
    "class.none": ("—", "—"),
    "class.just_now": ("just now", "방금"),
    "class.minutes_ago": ("{n} min ago", "{n}분 전"),
    "class.hours_ago": ("{n} h ago", "{n}시간 전"),
    "class.days_ago": ("{n} d ago", "{n}일 전"),
    "class.prediction_summary": ("{n}, {pct}% of lines", "{n}개, 줄 {pct}% 맞음"),
    "class.unreadable": ("(unreadable state file)", "(읽을 수 없는 상태 파일)"),
    # autograd graph view (v, B)
    "pane.graph": ("autograd graph", "자동 미분 그래프"),
    "graph.empty": (
        "No backward() yet: the graph appears when the code calls backward().",
        "아직 backward()가 없습니다. 코드가 backward()를 부르면 그래프가 나타납니다.",
    ),
    "graph.where": ("backward #{n} · line {line}", "backward #{n} · {line}번째 줄"),
    "graph.iteration": ("iteration {k}", "반복 {k}"),
    "graph.preview": (
        "graph of {name}, before backward() · line {line}",
        "{name}의 그래프, backward() 전 · {line}번째 줄",
    ),
    "graph.press_b": ("B: step the backward pass node by node", "B: 역전파를 노드 하나씩 따라가기"),
    "graph.arriving": ("gradient arriving: {value}", "도착한 기울기: {value}"),
    "graph.arrived": ("gradient arriving at the leaf: {value}", "잎(leaf)에 도착한 기울기: {value}"),
    "graph.rule": ("∂{out}/∂{inp} = {local} × upstream {up}", "∂{out}/∂{inp} = {local} × 위에서 온 기울기 {up}"),
    "graph.torch_rule": ("to {target}, by torch's rule for this op:", "{target} 쪽으로, 이 연산에 대한 torch의 규칙으로:"),
    "graph.accumulated": (
        "added to the old .grad: zero_grad was left out",
        "이전 .grad에 더해졌습니다: zero_grad를 하지 않았습니다",
    ),
    "graph.no_inputs": (
        "nothing flows further: no input needs a gradient",
        "더 흘러갈 곳이 없습니다: 기울기가 필요한 입력이 없습니다",
    ),
    "graph.step_end": ("done, {total} steps. Each leaf's .grad:", "끝, {total}단계. 각 잎(leaf)의 .grad:"),
    "graph.module": ("module", "모듈"),
    "graph.nothing": ("no backward() to step through yet", "따라갈 backward()가 아직 없습니다"),
    # run until / jump (`u`), divergence, branches (issue 18)
    "lesson.until": ("until", "조건 실행"),
    "describe.lesson.until": ("run until / jump: 500, @500, cost < 0.01, nan, …",
                              "조건까지 실행 / 이동: 500, @500, cost < 0.01, nan, …"),
    "until.label": ("until", "조건"),
    "until.placeholder": ("500, @500, cost < 0.01, nan…", "500, @500, cost < 0.01, nan…"),
    "until.empty": ("type a condition, e.g. cost < 0.01 or 500", "조건을 입력하세요. 예: cost < 0.01 또는 500"),
    "until.unknown": (
        "not a condition: {text} (try 500, @500, cost < 0.01, cost rises, grad > 10, nan)",
        "조건이 아닙니다: {text} (예: 500, @500, cost < 0.01, cost rises, grad > 10, nan)",
    ),
    "until.number": ("needs a finite number after < or >: {text}", "< 나 > 뒤에는 유한한 수가 와야 합니다: {text}"),
    "until.iteration": ("an iteration is a whole number, 0 or more: {text}",
                        "반복 번호는 0 이상의 정수입니다: {text}"),
    "until.cancelled": ("nothing run", "실행하지 않았습니다"),
    "until.applied": ("running until {condition}", "{condition}까지 실행합니다"),
    "until.met": ("Stopped: {condition} at iteration {iteration} (cost {cost}).",
                  "멈춤: 반복 {iteration}에서 {condition} 조건을 만족했습니다 (비용 {cost})."),
    "until.met_grad": (
        "Stopped: {condition} at iteration {iteration}: the gradient of {parameter} has norm {norm}.",
        "멈춤: 반복 {iteration}에서 {condition} 조건을 만족했습니다. {parameter}의 기울기(gradient) 크기는 {norm}입니다.",
    ),
    "until.reached": ("Stopped at iteration {iteration}, as asked ({condition}).",
                      "요청한 대로 반복 {iteration}에서 멈췄습니다 ({condition})."),
    "until.loop_end": (
        "{condition} was not met: the loop ended at iteration {iteration} (cost {cost}).",
        "{condition} 조건을 만족하지 못한 채 반복문이 반복 {iteration}에서 끝났습니다 (비용 {cost}).",
    ),
    "until.end": ("{condition} was not met: the lesson's code has run to the end.",
                  "{condition} 조건을 만족하지 못한 채 강의 코드가 끝까지 실행되었습니다."),
    # the engine's NonFiniteCost fact (ui/steer_words.py nonfinite_words)
    "nonfinite.hint": (
        "The cost is no longer a finite number: the learning rate is probably too large. "
        "Try a smaller one.",
        "비용이 더 이상 유한한 수가 아닙니다. 학습률이 너무 큰 것 같습니다. 더 작은 값으로 해 보세요.",
    ),
    "nonfinite.critical": (
        "Here lr = {lr} is above 2/λmax = {critical}: every step overshoots further (try lr < {critical}).",
        "여기서 lr = {lr}는 2/λmax = {critical}보다 커서 걸음마다 더 멀리 넘어갑니다(lr < {critical}로 해 보세요).",
    ),
    "divergence.nonfinite": (
        "The learning rate is probably too large: the cost became {cost} at iter {iteration}; "
        "paused after iter {last}, the last finite one.",
        "학습률이 너무 큰 것 같습니다: 반복 {iteration}에서 비용이 {cost}이(가) 되어, "
        "마지막으로 유한했던 반복 {last} 뒤에서 멈췄습니다.",
    ),
    "divergence.first": (
        "The learning rate is probably too large: the first cost is already {cost}; paused before it.",
        "학습률이 너무 큰 것 같습니다: 첫 반복의 비용부터 {cost}입니다. 그 앞에서 멈췄습니다.",
    ),
    "divergence.growth": (
        "The learning rate is probably too large: the cost grew 10× in 5 iterations (iter {iteration}: {cost}).",
        "학습률이 너무 큰 것 같습니다: 5번의 반복 동안 비용이 10배 넘게 커졌습니다 (반복 {iteration}: {cost}).",
    ),
    "divergence.parameter": ("{parameter}'s update grew fastest (×{growth}).",
                             "{parameter}의 갱신(update)이 가장 빨리 커졌습니다 (×{growth})."),
    "divergence.advice": ("b: back to iter {start}, where it began.",
                          "b: 증가가 시작된 반복 {start}(으)로 돌아가기."),
    "plot.branch": ("lr {old} → {new} at iter {iteration}", "반복 {iteration}에서 lr {old} → {new}"),
    "plot.branch_edit": ("cell {cell} edited", "셀 {cell} 수정"),
    # help
    "help.title": ("Keys", "키"),
    "help.footer": ("? or escape closes this help", "? 또는 escape로 닫습니다"),
    # the cell editor (screens/edit_cell.py)
    "edit.title": ("Edit cell {number} (line {line})", "셀 {number} 고치기 ({line}번째 줄)"),
    "edit.keys": ("ctrl+r run from the start · ctrl+s save a copy · escape cancel", "ctrl+r 처음부터 실행 · ctrl+s 사본 저장 · escape 취소"),
    "edit.norun": ("This cell is shown, never run.", "이 셀은 보여 주기만 하고 실행하지 않습니다."),
    "edit.error": ("line {line}: {message}", "{line}번째 줄: {message}"),
    "edit.saved": ("Saved a copy: {path}", "사본을 저장했습니다: {path}"),
    "edit.save_failed": ("Could not save the copy: {reason}", "사본을 저장하지 못했습니다: {reason}"),
    "edit.run": ("run", "실행"),
    "edit.save": ("save copy", "사본 저장"),
    "edit.cancel": ("cancel", "취소"),
    # the prediction screen (screens/predict.py)
    "predict.title": ("What will cell {number} print?", "셀 {number}은(는) 무엇을 출력할까요?"),
    "predict.keys": ("enter new line · ctrl+s done · escape cancel", "enter 줄 바꿈 · ctrl+s 완료 · escape 취소"),
    "predict.empty": ("Type what you expect the cell to print first.", "먼저 셀이 출력할 내용을 적어 보세요."),
    "predict.match": ("✓ Your prediction matches the output.", "✓ 예상이 출력과 같습니다."),
    "predict.differ": ("✗ The output differs from your prediction.", "✗ 출력이 예상과 다릅니다."),
    "predict.waiting": ("Your prediction (the cell has not run yet):", "내 예상 (셀을 아직 실행하지 않았습니다):"),
    "predict.prediction": ("your prediction", "내 예상"),
    "predict.actual": ("output", "출력"),
    "predict.submit": ("done", "완료"),
    "predict.cancel": ("cancel", "취소"),
    # the hints panel (widgets/hints.py)
    "hints.counter": ("hint {number}/{total}", "힌트 {number}/{total}"),
    "hints.no_more": ("No more hints in this section.", "이 절에는 더 이상 힌트가 없습니다."),
    "hints.none": ("This section has no hints.", "이 절에는 힌트가 없습니다."),
    # tutor serve's own HTML pages (serve/pages.py), shown in both languages at once
    "serve.login": ("log in", "로그인"),
    "serve.login_error": ("Wrong name or password.", "이름 또는 비밀번호가 틀렸습니다."),
    "serve.name": ("name", "이름"),
    "serve.password": ("password", "비밀번호"),
    "serve.full": ("server full", "서버가 가득 찼습니다"),
    "serve.full_text": (
        "This server allows {limit} sessions at once, and all of them are open. "
        "Close another tab or try again in a while.",
        "이 서버는 세션을 동시에 {limit}개까지 열 수 있는데, 지금 모두 열려 있습니다. "
        "다른 탭을 닫거나 잠시 뒤에 다시 시도해 주세요.",
    ),
    "serve.forbidden": ("forbidden", "거부됨"),
    "serve.forbidden_text": (
        "Connections from another site's page are refused.",
        "다른 사이트에서 온 연결은 받지 않습니다.",
    ),
}


def t(key: str, lang: str, **values: object) -> str:
    """The string `key` in `lang`, formatted with `values`; the key itself if unknown."""
    pair = STRINGS.get(key)
    if pair is None:
        return key
    text = pair[1] if lang == "ko" else pair[0]
    return text.format(**values) if values else text


def other(lang: str) -> str:
    """The language `l` switches to."""
    return "en" if lang == "ko" else "ko"


def localize_bindings(node, lang: str) -> None:
    """Rewrite the footer labels of `node`'s bindings (by binding id) in `lang`.

    Bindings are declared once, in BINDINGS, with ids; this swaps only their
    descriptions, so keys, actions and ids never diverge between languages.
    """
    key_to_bindings = node._bindings.key_to_bindings
    for key, bindings in key_to_bindings.items():
        key_to_bindings[key] = [
            replace(b, description=t(b.id, lang)) if b.id in STRINGS else b for b in bindings
        ]


def _size(n: int) -> str:
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}iB"
    return f"{n} B"


def error_text(error, lang: str) -> str:
    """What the output pane says about an `ErrorInfo`: an exception of lesson code as
    it is, a fault of its kernel process (KernelDied, KernelUnresponsive,
    MemoryLimit: facts from the engine) in words."""
    kind, line = error.type, error.line
    if kind == "KernelDied":
        if error.signal is not None:
            import signal

            try:
                name = signal.Signals(error.signal).name
            except ValueError:
                name = "?"
            return t("fault.signal", lang, line=line, signal=error.signal, name=name)
        if error.exit_code is not None:
            return t("fault.exit", lang, line=line, code=error.exit_code)
        return t("fault.died", lang, line=line) + (f": {error.message}" if error.message else "")
    if kind == "KernelUnresponsive":
        return t("fault.unresponsive", lang, line=line)
    if kind == "MemoryLimit" and error.limit:
        return t("fault.memory", lang, line=line, limit=_size(error.limit))
    return t("lesson.error", lang, type=kind, line=line, message=error.message)
