"""The parser: a Markdown runbook (file or text) becomes a Runbook of Steps in document order."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import unicodedata
from typing import Any

from .. import lazyre
from ..gcpause import paused_gc
from ..model import SHELL_LANGS, LoadError, Problem, Runbook, RunbookError, Step
from . import frontmatter
from .annotations import parse_info
from .blocks import Context, split_plain
from .expectations import attach_output_blocks
from .lines import MAX_STEPS, TooManySteps
from .markdown import RawBlock, scan, split_transcript
from .vocabulary import LANGUAGE_OF

__all__ = ["load_runbook", "parse_text", "slugify", "MAX_BYTES", "MAX_STEPS"]

#: larger files are refused with a LoadError (a runbook is text a person reads)
MAX_BYTES = 16 * 1024 * 1024
CONSOLE_LANGS = frozenset({"console", "shell-session", "shellsession"})
# languages people expect to run; without an ``engines`` entry they are doc steps (lint says so)
_RUNNABLE = frozenset({"python", "python3", "py", "sql", "psql", "mysql", "ruby", "rb", "node",
                       "javascript", "js", "perl", "powershell", "ps1", "pwsh", "fish", "ksh",
                       "redis", "sqlite", "sqlite3", "php", "lua", "r", "mongo", "mongosh"})
# letters NFKD does not decompose into ASCII
_SLUG_LETTERS = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "ae", "ø": "o", "Ø": "o", "œ": "oe",
                               "Œ": "oe", "ł": "l", "Ł": "l", "đ": "d", "Đ": "d"})
_STEP_FIELDS = frozenset(f.name for f in dataclasses.fields(Step))
# attributes of a block that belong to its last command only, in command granularity
_LAST_ONLY = ("capture", "extract", "expect", "until")
GRANULARITIES = ("auto", "block", "command")
# front matter keys that only a runbook written for this tool has (title/tags are everyone's)
_OWN_KEYS = ("vars", "hosts", "defaults", "engines")
_SHELL_NAMES = frozenset({"bash", "sh", "zsh", "dash", "ksh", "ash", "/bin/bash", "/bin/sh"})


@dataclasses.dataclass(frozen=True)
class _Fragment:
    """commands.Fragment's twin for console transcripts and the splitter-crash fallback, so block
    granularity never imports tree-sitter."""

    kind: str
    code: str
    line_offset: int = 0
    title: str | None = None
    choice: int | None = None
    target: str | None = None
    interpreter: str | None = None
    expected_output: str | None = None
    expected_from: str | None = None
    expected_sample: bool = False


def _whole_block(code: str) -> list[Any]:
    return [_Fragment(kind="command", code=code)]


def load_runbook(path: str | os.PathLike[str], granularity: str | None = None) -> Runbook:
    """Read and parse a runbook file; every user-facing failure is a LoadError."""
    shown = os.fspath(path)
    shown = shown.decode(errors="replace") if isinstance(shown, bytes) else shown
    try:
        size = os.stat(path).st_size
        if size > MAX_BYTES:
            raise LoadError(f"too large ({size / 1048576:.1f} MB; the limit is "
                            f"{MAX_BYTES // 1048576} MB)", shown)
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise LoadError("no such file", shown) from None
    except IsADirectoryError:
        raise LoadError("is a directory, not a runbook file", shown) from None
    except PermissionError:
        raise LoadError("permission denied", shown) from None
    except (OSError, ValueError) as exc:
        raise LoadError(f"cannot read: {getattr(exc, 'strerror', None) or exc}", shown) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise LoadError("not UTF-8 text", shown) from None
    if "\x00" in text:
        raise LoadError("not UTF-8 text", shown)
    runbook = parse_text(text, shown, granularity)
    return dataclasses.replace(runbook, sha256=hashlib.sha256(data).hexdigest())


def parse_text(text: str, path: str = "<string>", granularity: str | None = None) -> Runbook:
    """Parse runbook Markdown. ``granularity`` (auto/block/command) overrides the front matter."""
    if granularity not in (None, *GRANULARITIES):
        raise LoadError(f"granularity must be auto, block or command, not {granularity!r}", path)
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    try:
        with paused_gc():  # ~10 small objects per line, none freed before the end
            return _parse(text, path, granularity)
    except RecursionError:
        raise LoadError("too deeply nested to read", path) from None


def _parse(text: str, path: str, granularity: str | None) -> Runbook:
    fm = frontmatter.parse(text, path)
    if fm.body_start:
        # keep front matter lines as blank lines so every token's line is a file line
        text = "\n" * fm.body_start + text.split("\n", fm.body_start)[-1]
    _count_blocks(text, path)
    found = scan(text, path)
    if len(found.blocks) > MAX_STEPS:
        raise TooManySteps(found.blocks[MAX_STEPS].line, path, "code blocks")
    problems: list[Problem] = [*fm.problems, *found.problems]
    # unknown default keys were reported once at the front matter; they are not step extras
    defaults = {k: v for k, v in fm.defaults.items()
                if k not in ("id", "title", "granularity", "extra")}
    book_granularity = granularity or fm.defaults.get("granularity") or "auto"
    own_front_matter = any(key in fm.data for key in _OWN_KEYS)
    drafts = [_draft(raw, n, path, fm.engines, defaults, problems)
              for n, raw in enumerate(found.blocks, 1)]
    _assign_ids(drafts, set())
    steps: list[dict[str, Any]] = []
    context = Context(engines=dict(fm.engines))
    for draft in drafts:
        own = draft.pop("_granularity", None)  # a block's granularity= attribute
        wanted = granularity or own or book_granularity
        if wanted == "auto":
            wanted = "block" if draft.pop("_annotated", False) or own_front_matter else "command"
        if wanted == "command" and _splittable(draft):
            steps.extend(_expand(draft, path, problems, context))
        else:
            if draft["kind"] == "shell" and not draft.get("interpreter"):
                context.learn_code(draft["code"])
            if "_unrun" in draft:
                problems.append(draft.pop("_unrun"))
            steps.append(draft)
        if len(steps) > MAX_STEPS:
            raise TooManySteps(steps[MAX_STEPS]["line"], path)
    _assign_ids(steps, {d["id"] for d in drafts})
    attach_output_blocks(steps)
    title = fm.title or found.first_h1 or _file_title(path)
    return Runbook(
        path=path, title=title, description=fm.description, tags=fm.tags, vars=fm.vars,
        hosts=fm.hosts, defaults=dict(fm.defaults), engines=fm.engines,
        steps=tuple(_make_step(s, i) for i, s in enumerate(steps, 1)),
        problems=tuple(sorted(problems, key=lambda p: p.line)),
        granularity=book_granularity,  # type: ignore[arg-type]  # checked on entry
    )


# What opens a code block, found without reading the Markdown: a fence, or a line indented by
# four after a blank line. markdown-it holds ~50 bytes of tokens per byte of tiny blocks, so a
# runbook with too many is refused before it is read.
_OPENING = lazyre.compile(r"^ {0,3}(`{3,}|~{3,})|^[ \t]*\n(?: {4}|\t)[ \t]*\S", re.MULTILINE)


def _count_blocks(text: str, path: str) -> None:
    """`TooManySteps` at the line of the first code block over `MAX_STEPS`."""
    fence, count = "", 0
    for m in _OPENING.finditer(text):
        mark = m.group(1)
        if fence:
            if mark and mark[0] == fence[0] and len(mark) >= len(fence):
                fence = ""
            continue
        fence = mark or ""
        count += 1
        if count > MAX_STEPS:
            line = text.count("\n", 0, m.start()) + 1 + (mark is None)
            raise TooManySteps(line, path, "code blocks")


def _file_title(path: str) -> str:
    base = os.path.basename(path)
    return os.path.splitext(base)[0] or base or path


def slugify(text: str) -> str:
    """Lowercase ``[a-z0-9-]`` slug of at most 40 characters, cut between words (may be empty)."""
    text = text.translate(_SLUG_LETTERS)
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) <= 40:
        return slug
    # an id is typed at the dangerous-step prompt and in --only: keep it short and whole-worded
    cut = slug[:41].rsplit("-", 1)[0]
    return cut if len(cut) >= 12 else slug[:40].rstrip("-")


def _draft(raw: RawBlock, n: int, path: str, engines: dict[str, str],
           defaults: dict[str, Any], problems: list[Problem]) -> dict[str, Any]:
    """Step fields of one raw block (defaults under annotations), ids not assigned yet."""
    if raw.kind == "task":
        fields: dict[str, Any] = {**defaults, "kind": "manual", "lang": "", "code": "",
                                  "title": raw.title or raw.heading or f"Step {n}"}
        if raw.checked:
            fields["extra"] = {"checked": True}
        return {**fields, "path": path, "line": raw.line, "section": raw.section}
    lang, attrs, found = parse_info(raw.info, path, raw.line)
    problems.extend(found)
    merged = {**(raw.comment or {}), **attrs}
    if raw.comment and "extra" in raw.comment and "extra" in attrs:
        merged["extra"] = {**raw.comment["extra"], **attrs["extra"]}
    fields = {**defaults, **merged, "lang": lang, "code": raw.content, "path": path,
              "line": raw.line, "section": raw.section, "_code_line": raw.code_line}
    fields["timeout_default"] = "timeout" in defaults and "timeout" not in merged
    fields["_granularity"] = merged.get("granularity")
    fields["_annotated"] = bool(merged)
    fields["_raw_code"], fields["_prose"] = raw.content, raw.prose
    fields["title"] = merged.get("title") or raw.title or raw.heading or f"Step {n}"
    fields["description"] = merged.get("description") or raw.description
    fields["kind"] = _kind(fields, lang, engines, problems, path, raw.line)
    return fields


def _kind(fields: dict[str, Any], lang: str, engines: dict[str, str],
          problems: list[Problem], path: str, line: int) -> str:
    """shell / engine / doc, and for terminal transcripts: commands split from their output."""
    if fields.get("kind") == "doc":
        fields["_doc_marked"] = True
        return "doc"
    if lang in SHELL_LANGS or not lang:
        console = lang in CONSOLE_LANGS or not lang
        # no language: only ``$`` prompts make it a transcript; ``#`` lines are no prompts then
        transcript = split_transcript(fields["code"], console=console and bool(lang))
        if transcript is not None:
            fields["_transcript"] = transcript
            fields["code"] = "\n".join(cmd for _, cmd, _ in transcript) + "\n"
            output = "\n".join(out for _, _, out in transcript if out)
            fields["expected_output"] = output or None
            fields["expected_from"] = "transcript" if output else None
            fields["lang"] = lang or "console"
            return "shell"
        return "doc" if console else "shell"
    if lang in engines:
        fields.setdefault("interpreter", engines[lang])
        return "engine"
    if fields.get("interpreter"):
        return "engine"
    if lang in _RUNNABLE:  # reported only if the block is read whole (block granularity)
        fields["_unrun"] = Problem("info", path, line, f'"{lang}" block is not executed (name it '
                                   f"in front matter engines to run it)", "RB104")
    return "doc"


def _splittable(draft: dict[str, Any]) -> bool:
    """Code blocks are read command by command, except documentation the author marked as such
    and blocks an engine runs whole (``interpreter=python``, front matter ``engines``)."""
    if "_raw_code" not in draft or draft.get("_doc_marked"):
        return False
    interpreter = str(draft.get("interpreter") or "").split()
    return not interpreter or interpreter[0].rsplit("/", 1)[-1] in _SHELL_NAMES


def _fragments(draft: dict[str, Any], path: str, problems: list[Problem],
               context: Context) -> list[Any]:
    tag = (draft["lang"] or "").lower()
    try:
        reading, frags = split_plain(draft["_raw_code"], tag, draft.get("_prose", ""),
                                     draft["section"][-1] if draft["section"] else "", context,
                                     tuple(draft["section"]))
    except TooManySteps as exc:
        raise TooManySteps(draft["_code_line"] + (exc.line or 0), path) from None
    except RunbookError:
        raise
    except Exception as exc:  # a reader bug must not lose the whole runbook
        problems.append(Problem("warning", path, draft["line"],
                                f"cannot split block into commands: {exc}", "RB105"))
        return _whole_block(draft["code"]) if draft["kind"] == "shell" else []
    if reading.close:
        problems.append(Problem("info", path, draft["line"], f"read as {reading.kind}, not "
                                f"{reading.runner_up} (a close call): {reading.why()}", "RB110"))
    manual = next((f for f in frags if f.kind == "manual"), None)
    if manual is not None:
        problems.append(Problem("info", path, draft["line"], f"{manual.lang} steps are left to "
                                f"the operator (manual): {_how_to_run(manual)}", "RB111"))
    return frags


def _how_to_run(manual: Any) -> str:
    """What would let the engine run a manual step itself (lint's RB111 advice)."""
    if manual.lang == "powershell":
        return "install pwsh, or name a runner in front matter engines"
    if manual.lang == "cmd":
        return "run them at a Windows command prompt"
    if manual.lang == "http":
        return "send them from the console they are written for, or write them as curl calls"
    client = f"`{manual.interpreter}`" if manual.interpreter else "the client"
    return f"open {client} with an earlier command, or name it in front matter engines"


def _step_lang(tag: str, frag: Any) -> str:
    """Shell steps keep a shell tag (``bash`` for text/untagged blocks read as commands);
    other languages keep the block's own spelling when it names the same language."""
    lang = getattr(frag, "lang", None)
    if frag.kind == "doc":
        return tag
    if not lang:
        return tag if tag in SHELL_LANGS or not tag else "bash"
    return tag if tag and (LANGUAGE_OF.get(tag) == lang or tag == lang) else lang


def _expand(draft: dict[str, Any], path: str, problems: list[Problem],
            context: Context) -> list[dict[str, Any]]:
    """Command granularity: one step per fragment of a block (commands, fed lines, manual
    steps with code, documentation)."""
    frags = _fragments(draft, path, problems, context)
    if not frags:  # documentation (output, data, prose): one doc step, the block as written
        code = draft.pop("_raw_code")
        return [{**draft, "kind": "doc", "code": code, "expected_output": None}] \
            if code.strip() else []
    runnable = ("command", "manual")
    last_cmd = max((i for i, f in enumerate(frags) if f.kind in runnable), default=-1)
    block_id = draft["id"]
    # A block holding one command keeps the author's title for it (a list item such as
    # "Check Node version"); the command's own comment then only describes it.
    single = sum(f.kind in runnable for f in frags) == 1
    tag = (draft["lang"] or "").lower()
    out = []
    for i, frag in enumerate(frags):
        title = frag.title if frag.title and not (single and frag.kind in runnable) else None
        step = {k: v for k, v in draft.items() if k not in ("id", "_explicit")}
        if i != last_cmd:
            for key in _LAST_ONLY:
                step.pop(key, None)
        step.update(
            code=frag.code, parent=block_id, title=title or draft["title"],
            line=draft["_code_line"] + frag.line_offset,
            choice=None if frag.choice is None else f"{block_id}:{frag.choice}",
            expected_output=frag.expected_output, expected_from=frag.expected_from,
            expected_sample=frag.expected_sample, lang=_step_lang(tag, frag),
            kind="shell", interpreter=draft.get("interpreter"),
            _slug=slugify(title) if title else f"{block_id}-{i + 1}",
        )
        if frag.title and not title:
            step["description"] = frag.title
        if frag.session:
            step["session_lines"] = tuple(draft["_code_line"] + k for k in frag.session)
        if frag.target:
            step["on"] = (frag.target,)
        if frag.interpreter:
            step["interpreter"] = frag.interpreter
            step["kind"] = "engine" if frag.kind == "command" else step["kind"]
        if frag.kind in ("doc", "manual"):
            step["kind"] = frag.kind
            if frag.kind == "doc":
                step["interpreter"] = None
        out.append(step)
    commands = [step for step, frag in zip(out, frags, strict=True) if frag.kind in runnable]
    if commands and (single or draft.get("_explicit")):
        # The block's id lives on in its last command, which also holds the block's capture and
        # expect: `needs=block`, `steps.block.stdout` and `--only block` keep working.
        commands[-1].pop("_slug", None)
        commands[-1].update(id=block_id, _explicit=draft.get("_explicit", True))
    return out


def _assign_ids(drafts: list[dict[str, Any]], taken: set[str]) -> None:
    """Explicit ids stay as written (duplicates too: the graph reports them); others get slugs."""
    used = set(taken) | {str(d["id"]) for d in drafts if d.get("id") and d.get("_explicit", True)}
    # per base, the next suffix to try: every smaller one is taken already (``used`` only grows),
    # so thousands of steps under one title stay linear
    next_suffix: dict[str, int] = {}
    for n, draft in enumerate(drafts, 1):
        if draft.get("id"):
            draft.setdefault("_explicit", True)
            continue
        base = draft.pop("_slug", None) or slugify(draft["title"]) or f"step-{n}"
        candidate, k = base, next_suffix.get(base, 2)
        if k > 2:
            candidate, k = f"{base}-{k}", k + 1
        while candidate in used:
            candidate, k = f"{base}-{k}", k + 1
        next_suffix[base] = k
        used.add(candidate)
        draft["id"], draft["_explicit"] = candidate, False


def _make_step(fields: dict[str, Any], index: int) -> Step:
    kwargs = {k: v for k, v in fields.items() if k in _STEP_FIELDS}
    kwargs["index"] = index
    kwargs["id"] = str(kwargs["id"])
    for key in ("on", "needs", "tags", "env", "section", "session_lines"):
        if key in kwargs:
            kwargs[key] = tuple(kwargs[key])
    return Step(**kwargs)
