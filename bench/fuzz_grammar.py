"""What the fuzzer feeds the reading side: grammar-aware runbooks, corrupted transcripts, bytes.

Every generator takes a ``random.Random`` so a seed replays a run (and hypothesis can drive the
same generators through ``st.randoms()``). No runbook_engine imports here.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus"

YAML_SCALARS = [
    "1", "-0", "0x1F", "0o17", "012", "1_000", "+.5", "1e309", ".inf", "-.inf", ".nan", "~",
    "null", "true", "yes", "on", "off", "2024-01-01", "2024-01-01T10:00:00Z",
    "2001-12-14 21:59:43.10 -5", "!!binary aGVsbG8=", "!!binary '!!!'", "!!str 12", "!!int '7'",
    "!!int x", "!!float 1", "!!timestamp 2020-02-30", "!!bool maybe", "!!null x", "'quoted'",
    '"esc \\u00e9 \\x00 \\ud800"', "|\n    block\n    text", ">-\n    folded", "!custom x",
    "!!python/object/apply:os.system ['touch /tmp/fuzz-pwned']", "!!python/name:os.system",
    "*undefined", "{a: 1, b: [1, 2]}", "[1, [2, [3]]]", "!!set {a, b}", "!!omap [a: 1, b: 2]",
    "!!pairs [a: 1]", "!!map [1]", "!!seq {a: 1}", "'{{ x }}'", "'<name>'", "''", '""',
    "'(a+)+$'", "[a, {b: [c, {d: e}]}]", "!!merge x", "? [a]", "%TAG !", "@x", "`x`",
]
VAR_KEYS = ["default", "prompt", "choices", "pattern", "secret", "env", "required",
            "description", "defualt", "type"]
LANGS = ["bash", "sh", "shell", "console", "shell-session", "zsh", "sql", "psql", "mysql",
         "powershell", "ps1", "pwsh", "cmd", "python", "yaml", "json", "text", "mermaid", "",
         "http", "redis", "mongodb", "diff", "bash!", "{.bash}", "terraform", "docker"]
ATTRS = ["id", "title", "on", "needs", "when", "tags", "confirm", "danger", "safe", "doc",
         "interactive", "capture", "extract", "secret", "expect", "expect_exit", "timeout",
         "retries", "delay", "until", "continue_on_error", "cwd", "env", "shell", "interpreter",
         "sudo", "user", "serial", "max_fail", "granularity", "timout", "name", "ignore",
         "excludeFromRunAll", "expect-exit"]
ATTR_VALUES = ["x", "1", "-1", "0", "99999999999999999999", "true", "no", "[a, b]", "a,b",
               '"a b"', "'(a+)+$'", "'\\\\'", "{{ x }}", "<name>", "1h30m", "250ms", "5y",
               "50%", "web", "deploy@h:22", "[", "]", "''", '"', "=", "{", "}", "(a|a)*$",
               "steps.x.stdout", "\"env == 'prod'\"", "A=1 B='two words'", "é", "\x00"]
SHELL_LINES = [
    "echo hello", "ls -la /tmp", "kubectl -n prod delete pod web-1", "rm -rf /var/tmp/x",
    "export API_TOKEN=$(cat token)", "echo \"$HOME\" '$HOME' $'a\\tb'", "cat <<EOF\n<name>\nEOF",
    "cat <<'EOF'\n$(date)\nEOF", "psql -c \"select 1\"", "sudo systemctl restart nginx",
    "ssh deploy@<host> 'uptime'", "for i in 1 2 3; do echo $i; done", "if true; then",
    "fi", "$(", "`", "echo ${x:-<default>}", "(( n = <count> + 1 ))", "curl https://example.com",
    "echo <your db name> YOUR_TOKEN CHANGEME i-xxxxxxxx 10.x.x.x", "git reset --hard HEAD~1",
    "dd if=/dev/zero of=/dev/sda", "echo \"{{ name }}\" {{ x | q }}", "bash -c 'echo <v>'",
    "mysql -e 'DROP TABLE t'", "watch -n1 'ls'", "tail -f /var/log/syslog", "top",
    "echo a && echo b || echo c; echo d | tee f", "trap 'echo bye' EXIT", "\\", "'", '"',
    "echo x >> \"$RUNBOOK_OUTPUT\"", "printenv SECRET_KEY", "case $x in a) ;; esac",
]
SQL_LINES = ["SELECT * FROM users WHERE id = <id>;", "DROP TABLE accounts;", "BEGIN;",
             "UPDATE t SET a = '{{ v }}' WHERE b = 1;", "DELETE FROM t;", "\\dt", "COMMIT;",
             "select 'unterminated", "-- comment", "/* open comment", "TRUNCATE logs;"]
PS_LINES = ["Get-Process | Where-Object CPU -gt 10", "Remove-Item -Recurse -Force C:\\x",
            "Stop-Service -Name w3svc", "$x = Get-Date", "Invoke-WebRequest -Uri $u", "@'",
            "'@", "Write-Host \"`$env:PATH\""]
PROMPTS = ["$ ", "# ", "> ", "mysql> ", "postgres=# ", "postgres-# ", "PS C:\\> ", "redis> ",
           "sqlite> ", "root@host:~# ", "user@box $ ", ">>> ", "... ", "C:\\> ", "~ % "]
JINJA = [
    "{{ x }}", "{{ x | q }}", "{{ x | nosuch }}", "{{ ''.__class__ }}", "{{ range(10**9) | list }}",
    "{% for i in range(3) %}{{ i }}{% endfor %}", "{% for i in x %}", "{% endfor %}", "{#",
    "{{", "}}", "{{ }}", "{% raw %}", "{{ cycler.__init__.__globals__ }}", "{{ lipsum }}",
    "{{ steps.a.stdout }}", "{{ env.HOME }}", "{{ env.SECRET_KEY }}", "{% set y = 'a' * 99 %}",
    "{{ '%999999999s' | format(1) }}", "{{ x[0][1].y }}", "{% macro m() %}{% endmacro %}",
    "{% include 'x' %}", "{{ 9 ** 9 ** 9 }}", "{{ (1, 2) * 999999999 }}", "{{.Names}}",
    "{{json .State}}", "{{ x.__dict__ }}", "{{ x|attr('__class__') }}", "{{ 'a'.join }}",
    "{{ self }}", "{{ namespace() }}", "{% filter upper %}", "{{ x is nosuchtest }}",
    "{{ 1 / 0 }}", "{{ 'a' ~ x ~ 'b' }}", "{{ {'a': 1}.items() | list }}", "{{ -}}",
]


def pick(rng: random.Random, items: list[str]) -> str:
    return items[rng.randrange(len(items))]


def deep_jinja(rng: random.Random) -> str:
    depth = rng.choice([10, 70, 120, 300, 1000, 5000])
    opener, closer = rng.choice([("(", ")"), ("[", "]"), ("{", "}"), ("-(", ")"), ("x[", "]")])
    body = opener * depth + "1" + closer * rng.choice([depth, depth - 1, 0])
    return rng.choice(["{{ ", "{% if ", "{% set a = "]) + body + rng.choice([" }}", " %}", ""])


def jinja(rng: random.Random) -> str:
    return deep_jinja(rng) if rng.random() < 0.2 else pick(rng, JINJA)


# ---------------------------------------------------------------- YAML front matter


def yaml_value(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth > 3 or roll < 0.5:
        value = pick(rng, YAML_SCALARS)
        return value.replace("\n", "\n" + "  " * (depth + 2))
    if roll < 0.75:
        return "[" + ", ".join(yaml_value(rng, depth + 1).replace("\n", " ")
                               for _ in range(rng.randrange(4))) + "]"
    indent = "  " * (depth + 2)
    return "".join(f"\n{indent}{pick(rng, VAR_KEYS)}: {yaml_value(rng, depth + 1)}"
                   for _ in range(1 + rng.randrange(4)))


def yaml_bomb(rng: random.Random) -> str:
    levels, width = rng.randrange(2, 10), rng.randrange(2, 10)
    lines = ["  l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"  l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    return "vars:\n" + "\n".join(lines) + "\n"


def deep_yaml(rng: random.Random) -> str:
    depth = rng.choice([50, 200, 1000, 5000])
    if rng.random() < 0.5:
        return "vars:\n  x: " + "[" * depth + "]" * depth + "\n"
    return "vars:\n  x: " + "{a: " * depth + "1" + "}" * depth + "\n"


def front_matter(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.05:
        body = yaml_bomb(rng)
    elif roll < 0.1:
        body = deep_yaml(rng)
    else:
        lines = []
        for key in rng.sample(["title", "description", "tags", "vars", "hosts", "defaults",
                               "engines", "unknown", "on", "granularity"], rng.randrange(1, 6)):
            if key in ("vars", "hosts", "defaults", "engines") and rng.random() < 0.8:
                items = "".join(f"\n  {rng.choice(['x', 'name', 'API_TOKEN', 'web', 'db1'])}"
                                f"{rng.randrange(3)}: "
                                f"{rng.choice(['&a ', '', '*a ', ''])}{yaml_value(rng, 1)}"
                                for _ in range(rng.randrange(1, 5)))
                lines.append(f"{key}:{items}")
            else:
                lines.append(f"{key}: {yaml_value(rng)}")
        body = "\n".join(lines) + "\n"
    closer = rng.choice(["---\n", "---\n", "...\n", ""])
    return "---\n" + body + closer


# ---------------------------------------------------------------- Markdown body


def annotation(rng: random.Random) -> str:
    pairs = []
    for _ in range(rng.randrange(5)):
        name = pick(rng, ATTRS)
        pairs.append(name if rng.random() < 0.2 else f"{name}={pick(rng, ATTR_VALUES)}")
    if rng.random() < 0.1:
        return json.dumps({pick(rng, ATTRS): pick(rng, ATTR_VALUES) for _ in range(2)})
    return "{" * rng.choice([1, 1, 1, 0, 2]) + " ".join(pairs) + rng.choice(["}", "}", "", "}}"])


def code_lines(rng: random.Random, lang: str) -> list[str]:
    table = SQL_LINES if "sql" in lang else PS_LINES if lang in ("powershell", "ps1", "pwsh") \
        else SHELL_LINES
    lines = []
    for _ in range(rng.randrange(1, 8)):
        line = pick(rng, table)
        if rng.random() < 0.25:
            line = pick(rng, PROMPTS) + line
        if rng.random() < 0.15:
            line += " " + jinja(rng)
        lines.append(line)
    if rng.random() < 0.2:
        lines.append(pick(rng, ["output line", "ERROR 1064 (42000)", "(3 rows)", "OK", "..."]))
    return lines


def fence(rng: random.Random, nest: int = 0) -> str:
    char = rng.choice(["`", "`", "~"])
    marker = char * rng.choice([3, 3, 4, 5, 8])
    lang = pick(rng, LANGS)
    info = lang + (" " + annotation(rng) if rng.random() < 0.5 else "")
    body = code_lines(rng, lang)
    if nest < 2 and rng.random() < 0.1:
        body.append(fence(rng, nest + 1))
    indent = rng.choice(["", "", "", "  ", "   ", "    "])
    closing = [] if rng.random() < 0.08 else [char * rng.choice([len(marker), len(marker) + 1,
                                                                 3])]
    text = "\n".join([marker + info, *body, *closing])
    return "\n".join(indent + line for line in text.split("\n"))


def prose(rng: random.Random) -> str:
    parts = [rng.choice(["Run this", "Check <service>", "Then", "Use YOUR_API_KEY", "**bold**",
                         "[link](http://x)", "<div>", "`inline {{ x }}`", "Note:", "é中文🙂"])
             for _ in range(rng.randrange(1, 6))]
    if rng.random() < 0.2:
        parts.append(jinja(rng))
    return " ".join(parts)


def table(rng: random.Random) -> str:
    cols = rng.randrange(1, 5)
    rows = ["| " + " | ".join(f"h{i}" for i in range(cols)) + " |",
            "|" + "---|" * cols]
    rows += ["| " + " | ".join(rng.choice(["`ls`", "x", "{{ y }}", "<a>", ""])
                               for _ in range(cols)) + " |" for _ in range(rng.randrange(6))]
    return "\n".join(rows)


def nested_list(rng: random.Random) -> str:
    depth = rng.choice([2, 5, 30, 200])
    return "\n".join("  " * i + rng.choice(["- ", "1. ", "* [ ] "]) + prose(rng)
                     for i in range(depth))


BLOCKS: list[tuple[float, Callable[[random.Random], str]]] = [
    (0.35, fence),
    (0.15, prose),
    (0.1, lambda rng: "#" * rng.randrange(1, 8) + " " + prose(rng)),
    (0.05, table),
    (0.05, nested_list),
    (0.08, lambda rng: f"<!-- runbook: {annotation(rng)} -->"),
    (0.05, lambda rng: "\n".join("    " + line for line in code_lines(rng, "bash"))),
    (0.05, lambda rng: "\n".join(pick(rng, PROMPTS) + pick(rng, SHELL_LINES)
                                 for _ in range(3))),
    (0.04, lambda rng: "- [ ] `" + pick(rng, SHELL_LINES) + "`"),
    (0.04, lambda rng: "<!--" + rng.choice([" open", " x -->"])),
    (0.04, lambda rng: "> " + fence(rng).replace("\n", "\n> ")),
]


def body_block(rng: random.Random) -> str:
    roll = rng.random() * sum(weight for weight, _ in BLOCKS)
    for weight, make in BLOCKS:
        roll -= weight
        if roll <= 0:
            return make(rng)
    return prose(rng)


def corpus_chunk(rng: random.Random) -> str:
    files = sorted(CORPUS.glob("*.md")) if CORPUS.is_dir() else []
    if not files:
        return ""
    text = rng.choice(files).read_text(encoding="utf-8", errors="replace")
    start = rng.randrange(len(text) + 1)
    return text[start:start + rng.randrange(4000)]


def runbook_text(rng: random.Random) -> str:
    parts = [front_matter(rng)] if rng.random() < 0.5 else []
    parts += [body_block(rng) for _ in range(rng.randrange(1, 12))]
    if rng.random() < 0.15:
        parts.insert(rng.randrange(len(parts) + 1), corpus_chunk(rng))
    return "\n\n".join(parts) + rng.choice(["\n", "", "\n\n"])


# ---------------------------------------------------------------- byte-level damage


def damage(rng: random.Random, data: bytes) -> bytes:
    """CRLF, BOM, NUL, invalid UTF-8, long lines, spliced and flipped bytes."""
    for _ in range(rng.choice([0, 0, 1, 1, 2, 4])):
        kind = rng.randrange(8)
        at = rng.randrange(len(data) + 1)
        if kind == 0:
            data = data.replace(b"\n", b"\r\n")
        elif kind == 1:
            data = b"\xef\xbb\xbf" + data
        elif kind == 2:
            data = data[:at] + b"\x00" + data[at:]
        elif kind == 3:
            data = data[:at] + rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"]) \
                + data[at:]
        elif kind == 4:
            data = data[:at] + rng.choice([b"x", b"a ", b"(", b"{{", b"|"]) \
                * rng.choice([1000, 20_000, 200_000]) + data[at:]
        elif kind == 5 and data:
            end = min(len(data), at + rng.randrange(64))
            data = data[:at] + data[at:end] * rng.randrange(2, 5) + data[end:]
        elif kind == 6 and data:
            data = data[:at] + data[at + rng.randrange(1, 64):]
        elif kind == 7 and data:
            flip = rng.randrange(len(data))
            data = data[:flip] + bytes([data[flip] ^ (1 << rng.randrange(8))]) + data[flip + 1:]
    return data


def runbook_bytes(rng: random.Random) -> bytes:
    if rng.random() < 0.05:
        return rng.randbytes(rng.randrange(2048))
    return damage(rng, runbook_text(rng).encode("utf-8", "surrogatepass"))


# ---------------------------------------------------------------- transcripts

JSON_VALUES: list[object] = [None, 0, -1, 2**70, 1.5, True, "", "x", "****", [], {}, [1, "a"],
                             {"a": {"b": []}}, "2026-13-45T99:99:99Z", "\u0000", "é" * 100]


def corrupt_transcript(rng: random.Random, seed: bytes) -> bytes:
    """A real transcript with wrong-typed fields, lost/duplicated/reordered lines, torn bytes."""
    lines = seed.splitlines()
    for _ in range(rng.randrange(1, 6)):
        if not lines:
            break
        at = rng.randrange(len(lines))
        kind = rng.randrange(6)
        if kind <= 2:
            lines[at] = _mutate_event(rng, lines[at])
        elif kind == 3:
            del lines[at]
        elif kind == 4:
            lines.insert(rng.randrange(len(lines) + 1), lines[at])
        else:
            rng.shuffle(lines)
    data = b"\n".join(lines) + b"\n"
    if rng.random() < 0.2:
        data = data[:rng.randrange(len(data) + 1)]
    return damage(rng, data) if rng.random() < 0.3 else data


def _mutate_event(rng: random.Random, line: bytes) -> bytes:
    try:
        event = json.loads(line)
    except ValueError:
        return line
    if not isinstance(event, dict) or not event:
        return line
    key = rng.choice(list(event))
    roll = rng.random()
    if roll < 0.6:
        event[key] = rng.choice(JSON_VALUES)
    elif roll < 0.75:
        del event[key]
    elif roll < 0.9 and isinstance(event[key], dict) and event[key]:
        inner = rng.choice(list(event[key]))
        event[key][inner] = rng.choice(JSON_VALUES)
    else:
        event["event"] = rng.choice(["step_finished", "var_set", "nope", "run_started", 7])
    return json.dumps(event).encode()
