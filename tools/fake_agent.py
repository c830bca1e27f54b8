#!/usr/bin/env python3
"""A scripted stand-in for the Codex CLI, used as `launcher.agent_command` in tests.

It reads its role from the environment the launcher gives every agent (SPEC 6):
CODEX_GOVERNANCE_URL, _TOKEN, _SESSION_ID, _SESSION_KIND (zhongshu|department),
_PROMPT_FILE, _MODEL and, for departments, _PARENT_SESSION_ID, _DEPARTMENT, _MAILBOX.

Behaviour comes from, in increasing priority:
  1. FAKE_AGENT_<OPTION> environment variables (e.g. FAKE_AGENT_WORK_SECONDS=2,
     FAKE_AGENT_PLAN='{"assignments": []}' or FAKE_AGENT_PLAN=@/path/plan.json,
     FAKE_AGENT_NO_REPORT=1, FAKE_AGENT_RISK='a|b' for lists);
  2. command-line flags (what tests put in `agent_command`);
  3. a directive inside the prompt (the `--prompt` argument, else the prompt file):
     `[[fake-agent: --work-seconds 30 --ignore-sigterm]]`. Since a department's
     prompt contains its task, a test can vary behaviour per assignment.

What it prints (one line each, easy to find in the transcript log):
  FAKE_AGENT_START session=<id> kind=<kind> pid=<pid> pgid=<pgid>
  FAKE_AGENT_ARGV <JSON list of sys.argv, ASCII-escaped>
  FAKE_AGENT_ENV <JSON object of CODEX_GOVERNANCE_* variables; the token only as its length>
  FAKE_AGENT_OPTIONS <JSON of the effective options>
  CHILD_PID=<pid>                        (--spawn-child)
  FAKE_AGENT_PLAN_STATUS <http status> <response body>   (zhongshu with a plan)
  FAKE_AGENT_WROTE <path> in <folder>    (department, --write PATH=TEXT: its work)
  FAKE_AGENT_REPORT_WRITTEN <path>       (department, --report-via file)
  FAKE_AGENT_REPORT_CLI <exit code> <output>  (department, --report-via cli)
  ECHO: <line>                           (each stdin line, escape sequences removed)
  FAKE_AGENT_RECORDING <path>            (--record-stdin: raw bytes go to <path> instead;
                                         it asks for bracketed paste unless --plain-paste)
  FAKE_AGENT_SIGTERM_IGNORED             (--ignore-sigterm, on each SIGTERM)
  FAKE_AGENT_EXIT <code>

Python 3.11 standard library only.
"""

import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ENV_PREFIX = "CODEX_GOVERNANCE_"
# --record-stdin's folder, set once the options are parsed.
RECORD_STDIN = None
# --plain-paste: a recording agent that does not ask for bracketed paste.
PLAIN_PASTE = False
DIRECTIVE = re.compile(r"\[\[fake-agent:(.*?)\]\]", re.S)
# CSI, OSC (BEL or ST terminated), two-byte escapes, then stray control characters.
ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[@-Z\\-_]"
    r"|[\x00-\x08\x0b-\x1f\x7f]"
)


def out(text):
    """Prints one line and flushes, so the PTY sees it at once."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def build_parser():
    p = argparse.ArgumentParser(prog="fake_agent.py", add_help=True, allow_abbrev=False)
    # Placeholders a test may pass through, so it can check them.
    p.add_argument("--prompt", help="the prompt ({prompt})")
    p.add_argument("--prompt-file", dest="prompt_file_arg", help="{prompt_file}")
    p.add_argument("--model", dest="model_arg", help="{model}")
    p.add_argument("--cd", dest="repo_arg", help="{repo}")
    p.add_argument("--session", dest="session_arg", help="{session_id}")
    # Zhongshu
    p.add_argument("--plan-file", help="JSON plan to POST to /api/report_zhongshu_plan")
    p.add_argument("--plan-json", help="the plan as a JSON string")
    p.add_argument("--plan-retries", type=int, default=None,
                   help="retries while the launcher answers 404 for our session (default 50)")
    p.add_argument("--after-plan", choices=["wait", "exit"], default=None,
                   help="after posting the plan: stay alive echoing stdin (default) or exit")
    # Department
    p.add_argument("--lines", type=int, default=None, help="output lines to print (default 3)")
    p.add_argument("--work-seconds", type=float, default=None, help="sleep before reporting")
    p.add_argument("--no-report", action="store_true", default=None)
    p.add_argument("--report-via", choices=["file", "cli"], default=None)
    p.add_argument("--bin", default=None, help="codex-governance binary for --report-via cli")
    p.add_argument("--summary", default=None)
    p.add_argument("--risk", action="append", default=None)
    p.add_argument("--changed-file", action="append", default=None)
    p.add_argument("--write", action="append", default=None, metavar="PATH=TEXT",
                   help="write TEXT (\\n: a new line) to PATH, relative to the working folder, "
                        "before reporting")
    p.add_argument("--verification", action="append", default=None)
    p.add_argument("--next-action", default=None)
    p.add_argument("--needs-confirmation", action="store_true", default=None,
                   help="the report asks the user to confirm something")
    p.add_argument("--report-id", default=None)
    p.add_argument("--after-report", choices=["exit", "wait"], default=None)
    # Both
    p.add_argument("--exit-code", type=int, default=None)
    p.add_argument("--ignore-sigterm", action="store_true", default=None)
    p.add_argument("--spawn-child", action="store_true", default=None)
    p.add_argument("--flood-mb", type=float, default=None, help="write N MiB of output fast")
    p.add_argument("--max-lifetime", type=float, default=None,
                   help="exit after this many seconds whatever happens (default 600)")
    p.add_argument("--quiet-env", action="store_true", default=None,
                   help="do not print FAKE_AGENT_ENV")
    p.add_argument("--plain-paste", action="store_true", default=None,
                   help="with --record-stdin: do not ask the terminal for bracketed paste")
    p.add_argument("--record-stdin", default=None,
                   help="instead of echoing stdin: raw terminal mode, every byte appended "
                        "to <DIR>/<session id>.stdin")
    return p


DEFAULTS = {
    "plan_retries": 50,
    "after_plan": "wait",
    "lines": 3,
    "work_seconds": 0.0,
    "no_report": False,
    "needs_confirmation": False,
    "report_via": "file",
    "bin": "codex-governance",
    "after_report": "exit",
    "exit_code": 0,
    "ignore_sigterm": False,
    "spawn_child": False,
    "flood_mb": 0.0,
    "max_lifetime": 600.0,
    "quiet_env": False,
}

LIST_OPTIONS = {"risk", "changed_file", "verification", "write"}


def env_value(dest, action):
    """FAKE_AGENT_<DEST> converted to the option's type, or None."""
    raw = os.environ.get("FAKE_AGENT_" + dest.upper())
    if raw is None or raw == "":
        return None
    if dest in LIST_OPTIONS:
        return [x for x in raw.split("|") if x]
    if isinstance(action, argparse._StoreTrueAction):
        return raw.lower() not in ("0", "false", "no", "")
    if action.type is not None:
        return action.type(raw)
    return raw


def prompt_text(ns):
    if ns.prompt:
        return ns.prompt
    path = os.environ.get(ENV_PREFIX + "PROMPT_FILE") or ns.prompt_file_arg
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                return f.read()
        except OSError:
            return ""
    return ""


def parse_options(argv):
    parser = build_parser()
    ns, unknown = parser.parse_known_args(argv)
    # Environment fallback for options not given as flags.
    for action in parser._actions:
        dest = action.dest
        if dest in ("help",):
            continue
        if getattr(ns, dest, None) is None:
            v = env_value(dest, action)
            if v is not None:
                setattr(ns, dest, v)
    if ns.plan_file is None and ns.plan_json is None:
        plan_env = os.environ.get("FAKE_AGENT_PLAN")
        if plan_env:
            if plan_env.startswith("@"):
                ns.plan_file = plan_env[1:]
            else:
                ns.plan_json = plan_env
    # Prompt directives override flags.
    directives = []
    for m in DIRECTIVE.finditer(prompt_text(ns)):
        directives.extend(shlex.split(m.group(1)))
    if directives:
        dns, more_unknown = build_parser().parse_known_args(directives)
        unknown = unknown + more_unknown
        for key, value in vars(dns).items():
            if key == "prompt":
                continue
            if value is not None:
                setattr(ns, key, value)
    for key, value in DEFAULTS.items():
        if getattr(ns, key, None) is None:
            setattr(ns, key, value)
    return ns, unknown, directives


def strip_escapes(text):
    return ESCAPES.sub("", text)


def governance_env():
    env = {}
    for k, v in sorted(os.environ.items()):
        if not k.startswith(ENV_PREFIX):
            continue
        if k == ENV_PREFIX + "TOKEN":
            env[ENV_PREFIX + "TOKEN_LEN"] = len(v)
        else:
            env[k] = v
    env.setdefault(ENV_PREFIX + "TOKEN_LEN", 0)
    return env


def record_stdin_forever(folder):
    """Appends every byte typed into the terminal to <folder>/<session id>.stdin,
    exactly as received: the terminal is put in raw mode, so Ctrl-C and Enter
    are bytes rather than signals and line ends."""
    import termios
    import tty
    session = os.environ.get(ENV_PREFIX + "SESSION_ID", "unknown")
    path = os.path.join(folder, session + ".stdin")
    tty.setraw(0, termios.TCSANOW)
    if not PLAIN_PASTE:
        # As TUIs do: ask for pastes to come bracketed.
        sys.stdout.write("\x1b[?2004h")
        sys.stdout.flush()
    with open(path, "ab", buffering=0) as f:
        out("FAKE_AGENT_RECORDING " + path)
        while True:
            try:
                chunk = os.read(0, 4096)
            except OSError:  # EIO: the terminal went away
                return
            if not chunk:
                return
            f.write(chunk)


def echo_stdin_forever():
    """Echoes each stdin line as `ECHO: <line>` until end of input (or records
    it with --record-stdin)."""
    if RECORD_STDIN:
        record_stdin_forever(RECORD_STDIN)
        return
    while True:
        try:
            line = sys.stdin.readline()
        except OSError:  # EIO: the terminal went away
            return
        except KeyboardInterrupt:
            continue
        if line == "":
            return
        text = strip_escapes(line.rstrip("\r\n"))
        out("ECHO: " + text)


def load_plan(ns):
    if ns.plan_file:
        with open(ns.plan_file, encoding="utf-8") as f:
            return json.load(f)
    if ns.plan_json:
        return json.loads(ns.plan_json)
    return None


def post_plan(plan, retries):
    url = os.environ.get(ENV_PREFIX + "URL", "").rstrip("/")
    token = os.environ.get(ENV_PREFIX + "TOKEN", "")
    session_id = os.environ.get(ENV_PREFIX + "SESSION_ID", "")
    if not url:
        out("FAKE_AGENT_PLAN_STATUS 0 no CODEX_GOVERNANCE_URL")
        return
    if isinstance(plan, dict) and not plan.get("session_id"):
        plan["session_id"] = session_id
    body = json.dumps(plan).encode("utf-8")
    attempt = 0
    while True:
        attempt += 1
        req = urllib.request.Request(
            url + "/api/report_zhongshu_plan",
            data=body,
            method="POST",
            headers={
                "Authorization": "Bearer " + token,
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, text = resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as e:
            status, text = 0, str(e)
        # The launcher records the session just after spawning it; a very fast
        # agent may ask before that. Retry a "no session" answer for a while.
        if status == 404 and attempt <= retries:
            time.sleep(0.1)
            continue
        out("FAKE_AGENT_PLAN_STATUS %d %s" % (status, " ".join(text.split())))
        return


def write_report_file(report):
    mailbox = os.environ.get(ENV_PREFIX + "MAILBOX")
    if not mailbox:
        out("FAKE_AGENT_REPORT_ERROR no CODEX_GOVERNANCE_MAILBOX")
        return False
    session = report.get("department_session_id") or "unknown"
    fd, tmp = tempfile.mkstemp(prefix="." + session + "-", suffix=".tmp", dir=mailbox)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(report, f, ensure_ascii=False, indent=2)
            f.flush()
            os.fsync(f.fileno())
        stamp = time.strftime("%Y%m%d-%H%M%S")
        final = os.path.join(mailbox, "%s-%s-%d.json" % (session, stamp, os.getpid()))
        n = 1
        while os.path.exists(final):
            n += 1
            final = os.path.join(mailbox, "%s-%s-%d-%d.json" % (session, stamp, os.getpid(), n))
        os.rename(tmp, final)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    out("FAKE_AGENT_REPORT_WRITTEN " + final)
    return True


def report_via_cli(ns, report):
    cmd = [ns.bin, "mailbox", "send", "--summary", report["summary"]]
    for f in report["changed_files"]:
        cmd += ["--changed-file", f]
    for v in report["verifications_run"]:
        cmd += ["--verification", v]
    for r in report["risks"]:
        cmd += ["--risk", r]
    if report.get("next_action"):
        cmd += ["--next-action", report["next_action"]]
    if report.get("report_id"):
        cmd += ["--report-id", report["report_id"]]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        text = (done.stdout + done.stderr).strip()
        out("FAKE_AGENT_REPORT_CLI %d %s" % (done.returncode, " ".join(text.split())))
        return done.returncode == 0
    except (OSError, subprocess.SubprocessError) as e:
        out("FAKE_AGENT_REPORT_CLI -1 %s" % e)
        return False


def write_file(item):
    """--write PATH=TEXT: the department's work, in its working folder."""
    path, _, text = item.partition("=")
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace("\\n", "\n"))
    out("FAKE_AGENT_WROTE %s in %s" % (path, os.getcwd()))


def department(ns):
    dept = os.environ.get(ENV_PREFIX + "DEPARTMENT", "unknown")
    for i in range(1, ns.lines + 1):
        out("fake %s output line %d/%d" % (dept, i, ns.lines))
    if ns.work_seconds > 0:
        out("FAKE_AGENT_WORKING %.1fs" % ns.work_seconds)
        time.sleep(ns.work_seconds)
    for item in ns.write or []:
        write_file(item)
    if not ns.no_report:
        report = {
            "department_session_id": os.environ.get(ENV_PREFIX + "SESSION_ID", ""),
            "department": dept,
            "summary": ns.summary or ("fake %s done" % dept),
            "changed_files": list(ns.changed_file or []),
            "verifications_run": list(ns.verification or []),
            "risks": list(ns.risk or []),
            "next_action": ns.next_action or "none",
        }
        if ns.needs_confirmation:
            report["needs_user_confirmation"] = True
        parent = os.environ.get(ENV_PREFIX + "PARENT_SESSION_ID")
        if parent:
            report["parent_session_id"] = parent
        if ns.report_id:
            report["report_id"] = ns.report_id
        if ns.report_via == "cli":
            report_via_cli(ns, report)
        else:
            write_report_file(report)
    if ns.after_report == "wait":
        out("FAKE_AGENT_WAITING")
        echo_stdin_forever()


def zhongshu(ns):
    plan = load_plan(ns)
    if plan is None:
        out("FAKE_AGENT_NO_PLAN")
    else:
        post_plan(plan, ns.plan_retries)
    if ns.after_plan == "wait":
        out("FAKE_AGENT_WAITING")
        echo_stdin_forever()


def flood(mib):
    line = b"x" * 1023 + b"\n"
    block = line * 64  # 64 KiB
    total = int(mib * 1024 * 1024)
    written = 0
    w = sys.stdout.buffer
    while written < total:
        chunk = block[: min(len(block), total - written)]
        w.write(chunk)
        written += len(chunk)
    w.flush()
    out("FAKE_AGENT_FLOOD_DONE %d" % written)


def main():
    global RECORD_STDIN, PLAIN_PASTE
    ns, unknown, directives = parse_options(sys.argv[1:])
    RECORD_STDIN = ns.record_stdin
    PLAIN_PASTE = bool(ns.plain_paste)
    kind = os.environ.get(ENV_PREFIX + "SESSION_KIND", "unknown")
    session = os.environ.get(ENV_PREFIX + "SESSION_ID", "unknown")

    if ns.max_lifetime and ns.max_lifetime > 0:
        signal.alarm(max(1, int(ns.max_lifetime)))

    if ns.ignore_sigterm:
        def on_term(signum, frame):
            out("FAKE_AGENT_SIGTERM_IGNORED")
        signal.signal(signal.SIGTERM, on_term)

    out("FAKE_AGENT_START session=%s kind=%s pid=%d pgid=%d"
        % (session, kind, os.getpid(), os.getpgid(0)))
    out("FAKE_AGENT_ARGV " + json.dumps(sys.argv, ensure_ascii=True))
    if not ns.quiet_env:
        out("FAKE_AGENT_ENV " + json.dumps(governance_env(), ensure_ascii=True, sort_keys=True))
    shown = {k: v for k, v in vars(ns).items() if k != "prompt"}
    shown["unknown_args"] = unknown
    shown["directives"] = directives
    out("FAKE_AGENT_OPTIONS " + json.dumps(shown, ensure_ascii=True, sort_keys=True))

    if ns.spawn_child:
        child = subprocess.Popen(["sleep", "1000"])
        out("CHILD_PID=%d" % child.pid)

    if ns.flood_mb and ns.flood_mb > 0:
        flood(ns.flood_mb)

    if kind == "zhongshu":
        zhongshu(ns)
    elif kind == "department":
        department(ns)
    else:
        out("FAKE_AGENT_UNKNOWN_KIND " + kind)
        if ns.after_report == "wait":
            echo_stdin_forever()

    out("FAKE_AGENT_EXIT %d" % ns.exit_code)
    sys.stdout.flush()
    return ns.exit_code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.exit(0)
