"""A labelled corpus of model-like outputs built from real text shipped on this machine, to measure the output
guards' precision and recall.

The "model" is a summarizer whose outputs are sometimes free text and sometimes JSON, each with the
`retrieved_context` it was given. Normal rows (`kind = "normal"`) are excerpts or summaries of a real passage with
that passage (or a window of it) as context; `detail` names their hard-negative category. Abnormal rows are derived
from real normal outputs by a realistic failure; `kind` names the failure and `detail` its sub-kind.

Real text comes from: Python standard-library docstrings (`inspect.getdoc`), docstrings of numpy, scipy and
networkx, licence files and README descriptions (METADATA) of the packages in this project's venv, the
`vega_datasets` package's local data and descriptions, CPython's `Lib/test` data (cjkencodings, mime.types) and
its build Makefile, code comments in the stdlib and the venv, and the translated messages (.mo catalogues) of the
Debian packages under /usr/share/locale. Every row's `source` says where its text came from. Only the IBAN-like
look-alikes (wrong check digits; `source` "constructed:...") and the personal data inserted into `pii` rows
(`source` "... + invented <detail>") are made up: no real IBAN or person's data ships offline.

Decisions: a ```json fence around VALID JSON is left out (its label depends on the consumer's contract); a fence
around broken JSON is `bad_json`. Personal data in `pii` rows is inserted into both the output and its context
(the summary leaks what the context held), so those rows fail only the PII check. The build needs the .mo
catalogues of this machine image (it stops when none is found); catalogues missing one by one are skipped.

Rebuild (deterministic: fixed seeds, sorted file lists, no dict/set order or clock):

    uv run --locked python -m monitoring_pipeline_tests.guard_corpus

writes `monitoring_pipeline_tests/fixtures/guard_corpus.parquet` and prints the counts by kind and detail.
"""

from __future__ import annotations

import csv
import gettext
import importlib
import inspect
import io
import itertools
import json
import random
import re
import struct
import sysconfig
import unicodedata
import uuid
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from monitoring_pipeline.core.guards.json_shape import value_depth

SEED = 20250611
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "guard_corpus.parquet"
PURELIB = Path(sysconfig.get_paths()["purelib"])
STDLIB = Path(sysconfig.get_paths()["stdlib"])
LOCALE = Path("/usr/share/locale")
MAX_CONTEXT = 4000
SCHEMA = {
    "prediction_id": pl.String,
    "output_text": pl.String,
    "retrieved_context": pl.String,
    "kind": pl.String,
    "detail": pl.String,
    "source": pl.String,
}

# -- the real text ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Doc:
    """A real passage: where it came from, its text, and a title (heading or member name) when it has one."""

    source: str
    text: str
    title: str = ""


@dataclass(frozen=True)
class Table:
    """Rows of a real data set (a window of them) with their header."""

    source: str
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Row:
    output_text: str | None
    retrieved_context: str | None
    kind: str
    detail: str
    source: str


STDLIB_NAMES = (
    "argparse abc array ast asyncio base64 bisect bz2 calendar cmath codecs collections concurrent.futures "
    "configparser contextlib contextvars copy csv dataclasses datetime decimal difflib dis enum filecmp fnmatch "
    "fractions functools gettext glob graphlib gzip hashlib heapq hmac html html.parser http http.client "
    "http.cookiejar http.cookies http.server imaplib inspect io ipaddress itertools json locale logging "
    "logging.handlers lzma mailbox math mimetypes multiprocessing netrc numbers operator os pathlib pickle "
    "pkgutil platform plistlib poplib pprint queue quopri random re reprlib sched secrets selectors shelve shlex "
    "shutil signal socket socketserver sqlite3 ssl stat statistics string struct subprocess sysconfig tarfile "
    "tempfile textwrap threading time timeit tokenize tomllib trace traceback types typing unicodedata unittest "
    "urllib.parse urllib.request uuid warnings wave weakref xml.dom.minidom xml.etree.ElementTree zipfile "
    "zipimport zlib zoneinfo"
)
STDLIB_MODULES = tuple(STDLIB_NAMES.split())
NUMPYDOC_MODULES = ("numpy", "scipy.stats", "scipy.signal", "scipy.linalg", "scipy.integrate", "networkx")
COMMENT_TREES = ("networkx", "pandas/tests", "numpy", "scipy/stats", "matplotlib", "moto", "dask", "sympy/core")
# (catalogue, language): translated messages in many scripts, right-to-left ones included
LOCALE_CATALOGUES = tuple(
    (domain, lang)
    for domain, langs in (
        ("glib20", "ar he fa ug yi ps hi mr bn ta th ka hy am el ru uk ja ko zh_CN zh_TW vi pl cs tr fr de es"),
        ("coreutils", "ja ko zh_CN zh_TW ru uk el fr de es pt_BR vi pl"),
        ("apt", "ar ja ko zh_CN th km ne mr fr de"),
        ("bash", "ja zh_CN ru el fr de"),
        ("Linux-PAM", "ar he fa ur hi bn ta"),
    )
    for lang in langs.split()
)
MSGID_CATALOGUES = ("apt", "coreutils", "glib20", "bash", "dpkg")

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(
    r"\(?\b\d{3}\)?[ .-]\d{3}[ .-]\d{4}\b"  # North American
    r"|\+\d{1,3}[ .-]?\(?\d{1,5}\)?(?:[ .-]\d{2,8}){1,4}\b"  # international
    r"|(?<![\d.,:/-])\b0\d{1,4}[ -]\d{2,8}(?:[ -]\d{2,4}){0,3}\b(?![.,:/-]\d)"  # European national
)
DIGIT_RUN = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
IBAN_SHAPE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
SSN_SHAPE = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
BAD_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffd]")
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "</s>", "<s>", "[PAD]", "<unk>", "[SEP]")
# checkable claims: URLs, [n] citations, typographic or JSON-escaped quotations of 12+ characters, numbers of two
# or more digits or with a decimal point or percent sign
CLAIM = re.compile(r"https?://[^\s\"'<>)\]]+|\[\d+\]|“[^”]{12,}”|\\\"[^\"\\]{12,}\\\"|\d+[.,]\d+%?|\d{2,}%?|\d%")


def luhn_ok(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char) * (2 if i % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def iban_remainder(iban: str) -> int:
    """The ISO 13616 mod-97 remainder of an IBAN (1 when its check digits are right)."""
    compact = iban.replace(" ", "")
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97


def has_personal_data(text: str) -> bool:
    """E-mail, phone, Luhn-valid card, valid IBAN or SSN-shaped text: kept out of every row but the `pii` ones."""
    if EMAIL.search(text) or PHONE.search(text) or SSN_SHAPE.search(text):
        return True
    cards = (re.sub(r"\D", "", m) for m in DIGIT_RUN.findall(text))
    if any(d[0] in "23456" and luhn_ok(d) for d in cards):
        return True
    return any(iban_remainder(m) == 1 for m in IBAN_SHAPE.findall(text))


def misread_utf8(text: str) -> bool:
    """The text is UTF-8 read as Windows-1252 or Latin-1: written back in that encoding, it reads as other UTF-8."""
    for codec in ("cp1252", "latin-1"):
        try:
            return text.encode(codec).decode("utf-8") != text
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
    return False


def is_clean(text: str) -> bool:
    """Text fit for a normal row: no personal data, control or replacement characters, special tokens or misread
    UTF-8."""
    return not (
        BAD_CHARS.search(text)
        or any(t in text for t in SPECIAL_TOKENS)
        or has_personal_data(text)
        or misread_utf8(text)
    )


def claims(text: str) -> list[str]:
    """The checkable claims of a text (quotation marks stripped), as the grounding guard defines them."""
    return [c.strip('“”\\"') for c in CLAIM.findall(text)]


def absent_claims(text: str, context: str | None) -> list[str]:
    return [c for c in claims(text) if c not in (context or "")]


def windows(text: str, limit: int = MAX_CONTEXT) -> list[str]:
    """The text cut into windows of whole paragraphs (whole lines for a long paragraph) of at most `limit`."""
    pieces: list[str] = []
    for par in re.split(r"\n\s*\n", text.strip()):
        pieces.extend(_cut_lines(par, limit) if len(par) > limit else [par])
    out: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + len(piece) + 2 > limit:
            out.append(current)
            current = ""
        current = f"{current}\n\n{piece}" if current else piece
    if current:
        out.append(current)
    return [w for w in out if len(w) <= limit]


def _cut_lines(par: str, limit: int) -> list[str]:
    out, current = [], ""
    for line in par.split("\n"):
        if current and len(current) + len(line) + 1 > limit:
            out.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    return [*out, current] if current else out


def _docs(source: str, text: str, title: str = "", limit: int = MAX_CONTEXT) -> list[Doc]:
    """Clean windows of a real text as passages."""
    parts = windows(text, limit)
    return [
        Doc(source if len(parts) == 1 else f"{source} (part {i + 1})", part, title)
        for i, part in enumerate(parts)
        if len(part) >= 80 and is_clean(part)
    ]


def stdlib_docs() -> list[Doc]:
    """Docstrings of the public members (and methods) of many standard-library modules."""
    docs: list[Doc] = []
    for name in STDLIB_MODULES:
        module = importlib.import_module(name)
        docs += _docs(f"stdlib:{name} module docstring", inspect.getdoc(module) or "", name)
        for member, obj in _members(module, name):
            docs += _docs(f"stdlib:{member} docstring", inspect.getdoc(obj) or "", member)
    return _unique(docs)


def _members(module: object, prefix: str) -> list[tuple[str, object]]:
    """Public functions and classes defined in `module`, and the public methods of those classes."""
    out: list[tuple[str, object]] = []
    for attr in sorted(dir(module)):
        obj = getattr(module, attr, None)
        if attr.startswith("_") or not (inspect.isclass(obj) or inspect.isroutine(obj)):
            continue
        if not str(getattr(obj, "__module__", "")).startswith(prefix.split(".")[0]):
            continue
        out.append((f"{prefix}.{attr}", obj))
        if inspect.isclass(obj):
            for meth in sorted(vars(obj)):
                if not meth.startswith("_") and inspect.isroutine(getattr(obj, meth, None)):
                    out.append((f"{prefix}.{attr}.{meth}", getattr(obj, meth)))
    return out


def numpydoc_docs() -> list[Doc]:
    """numpy, scipy and networkx docstrings: numpydoc sections, References with [n] and ISBNs."""
    docs: list[Doc] = []
    for name in NUMPYDOC_MODULES:
        module = importlib.import_module(name)
        for attr in sorted(getattr(module, "__all__", None) or dir(module)):
            obj = getattr(module, attr, None)
            if attr.startswith("_") or not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            doc = inspect.getdoc(obj) or ""
            package = name.split(".")[0]
            docs += _docs(f"{package}:{name}.{attr} docstring", doc, f"{name}.{attr}")
    return _unique(docs)


def _unique(docs: Iterable[Doc]) -> list[Doc]:
    seen: set[str] = set()
    out = []
    for doc in docs:
        if doc.text not in seen:
            seen.add(doc.text)
            out.append(doc)
    return out


def _dist_infos() -> list[Path]:
    return sorted(p for p in PURELIB.glob("*.dist-info") if not p.name.startswith("monitoring_pipeline"))


def _package(dist_info: Path) -> str:
    return dist_info.name.split("-")[0]


def licence_docs() -> list[Doc]:
    """Licence, copying and notice files of the venv's packages (each distinct text once)."""
    docs: list[Doc] = []
    pattern = re.compile(r"(LICEN[CS]E|COPYING|NOTICE)", re.IGNORECASE)
    for dist in _dist_infos():
        for path in sorted(p for p in dist.rglob("*") if p.is_file() and pattern.search(p.name)):
            text = path.read_text(encoding="utf-8", errors="replace")
            rel = path.relative_to(dist).as_posix()
            docs += _docs(f"licence:{_package(dist)} ({rel})", text, _package(dist))
    return _unique(docs)


def readme_docs() -> list[Doc]:
    """README descriptions (the body of METADATA) of the venv's packages, one passage per section."""
    docs: list[Doc] = []
    for dist in _dist_infos():
        path = dist / "METADATA"
        if not path.exists():
            continue
        body = path.read_text(encoding="utf-8").split("\n\n", 1)
        if len(body) < 2:
            continue
        for title, section in _sections(body[1]):
            docs += _docs(f"readme:{_package(dist)} (METADATA, {title[:40]})", section, title)
    return _unique(docs)


def _sections(text: str) -> list[tuple[str, str]]:
    """Markdown (#) or reStructuredText (underlined) sections: (heading, text with the heading)."""
    lines = text.split("\n")
    starts = [0]
    for i, line in enumerate(lines):
        md = re.match(r"#{1,4} \S", line)
        rst = i + 1 < len(lines) and re.fullmatch(r"([=\-~^*])\1{3,}", lines[i + 1]) and line.strip()
        if (md or rst) and i > 0:
            starts.append(i)
    starts.append(len(lines))
    out = []
    for start, end in itertools.pairwise(starts):
        chunk = "\n".join(lines[start:end]).strip()
        title = lines[start].lstrip("# ").strip() or "introduction"
        if chunk:
            out.append((title, chunk))
    return out


def vega_description_docs() -> list[Doc]:
    """vega_datasets' dataset descriptions with their references ([1]_ style citations)."""
    info = json.loads((PURELIB / "vega_datasets" / "dataset_info.json").read_text(encoding="utf-8"))
    docs = []
    for name in sorted(info):
        entry = info[name]
        refs = entry.get("references", [])
        text = entry.get("description", "")
        if refs:
            text += "\n\nReferences\n\n" + "\n".join(f".. [{i + 1}] {ref}" for i, ref in enumerate(refs))
        docs += _docs(f"vega_datasets:dataset_info.json ({name})", text, name)
    return docs


VEGA_NAMES = (
    "airports.csv anscombe.json barley.json burtin.json cars.json crimea.json driving.json iowa-electricity.csv "
    "iris.json ohlc.json seattle-temps.csv seattle-weather.csv sf-temps.csv stocks.csv us-employment.csv wheat.json"
)
VEGA_FILES = tuple(VEGA_NAMES.split())  # la-riots.csv left out: it names real people who died


def vega_tables(size: int = 24) -> list[Table]:
    """Windows of `size` rows of vega_datasets' local data files."""
    tables = []
    for name in VEGA_FILES:
        path = PURELIB / "vega_datasets" / "_data" / name
        if name.endswith(".csv"):
            reader = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
            header, rows = reader[0], reader[1:]
        else:
            records = json.loads(path.read_text(encoding="utf-8"))
            header = list(records[0])
            rows = [["" if r.get(k) is None else str(r.get(k)) for k in header] for r in records]
        step = max(size, len(rows) // 40)
        for start in range(0, len(rows) - size + 1, step):
            tables.append(
                Table(f"vega_datasets:{name} rows {start + 1}-{start + size}", header, rows[start : start + size])
            )
    return tables


def csv_text(header: list[str], rows: list[list[str]], sep: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=sep, lineterminator="\n").writerows([header, *rows])
    return buffer.getvalue().rstrip("\n")


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def cjk_docs() -> list[Doc]:
    """The UTF-8 texts of CPython's Lib/test/cjkencodings (Chinese, Japanese, Korean prose about Python)."""
    docs = []
    for path in sorted((STDLIB / "test" / "cjkencodings").glob("*-utf8.txt")):
        text = path.read_text(encoding="utf-8")
        docs += _docs(f"cpython:Lib/test/cjkencodings/{path.name}", text, path.stem)
    return _unique(docs)


def read_mo(path: Path) -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs of a GNU .mo catalogue, header and plural forms left out, sorted by msgid."""
    data = path.read_bytes()
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic == gettext.GNUTranslations.LE_MAGIC else ">"
    count, originals, translations = struct.unpack(order + "3I", data[8:20])
    pairs = []
    for i in range(count):
        olen, ooff = struct.unpack(order + "2I", data[originals + 8 * i : originals + 8 * i + 8])
        tlen, toff = struct.unpack(order + "2I", data[translations + 8 * i : translations + 8 * i + 8])
        msgid, msgstr = data[ooff : ooff + olen], data[toff : toff + tlen]
        if not msgid or b"\x00" in msgid or b"\x04" in msgid:
            continue
        try:
            pairs.append((msgid.decode("utf-8"), msgstr.decode("utf-8")))
        except UnicodeDecodeError:
            continue
    return sorted(pairs)


def locale_docs() -> list[Doc]:
    """Translated messages of Debian packages' .mo catalogues: consecutive messages joined as passages."""
    docs: list[Doc] = []
    for domain, lang in LOCALE_CATALOGUES:
        path = LOCALE / lang / "LC_MESSAGES" / f"{domain}.mo"
        if not path.exists():
            continue
        texts = [s.strip() for _, s in read_mo(path) if len(s.strip()) >= 25 and "\x1b" not in s]
        docs += _group(f"locale:{domain}.mo ({lang})", texts, lang)
    return _unique(docs)


def msgid_docs() -> list[Doc]:
    """The English originals (msgids) of a few catalogues: real error and help messages."""
    docs: list[Doc] = []
    for domain in MSGID_CATALOGUES:
        path = LOCALE / "fr" / "LC_MESSAGES" / f"{domain}.mo"
        if path.exists():
            texts = [m.strip() for m, _ in read_mo(path) if len(m.strip()) >= 25]
            docs += _group(f"locale:{domain}.mo (English msgids)", texts, domain)
    return _unique(docs)


def _group(source: str, texts: list[str], title: str, size: int = 1800) -> list[Doc]:
    docs, current = [], []
    for text in texts:
        current.append(text)
        if sum(len(t) + 1 for t in current) >= size:
            docs += _docs(f"{source} messages {len(docs) + 1}", "\n".join(current), title)
            current = []
    return docs


def comment_docs() -> list[Doc]:
    """Blocks of three or more comment lines in the stdlib and some venv packages (first-person developer text)."""
    files = sorted(STDLIB.glob("*.py")) + sorted(STDLIB.glob("test/test_*.py"))
    for tree in COMMENT_TREES:
        files += sorted((PURELIB / tree).rglob("*.py"))
    docs: list[Doc] = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        block: list[str] = []
        for line in [*text.split("\n"), ""]:
            stripped = line.strip()
            if stripped.startswith("# ") or stripped == "#":
                block.append(stripped[2:])
                continue
            if len(block) >= 3 and sum(len(b) for b in block) >= 150:
                rel = path.relative_to(
                    STDLIB if path.is_relative_to(STDLIB) and "site-packages" not in str(path) else PURELIB
                )
                docs += _docs(f"comment:{rel.as_posix()}", "\n".join(block).strip(), rel.stem)
            block = []
    return _unique(docs)


def tab_docs() -> list[Doc]:
    """Tab-separated real text: CPython's Lib/test/mime.types and its build Makefile's recipes."""
    docs: list[Doc] = []
    mime = (STDLIB / "test" / "mime.types").read_text(encoding="utf-8").split("\n")
    for start in range(12, len(mime) - 40, 40):
        docs += _docs("cpython:Lib/test/mime.types", "\n".join(mime[start : start + 40]), "mime.types")
    makefile = Path(sysconfig.get_makefile_filename()).read_text(encoding="utf-8", errors="replace")
    for section in re.split(r"\n\s*\n", makefile):
        if section.count("\n\t") >= 3 and "CONFIG_ARGS" not in section and "/root" not in section:
            docs += _docs("cpython:config-3.11/Makefile", section, "Makefile")
    return [d for d in docs if "\t" in d.text]


@dataclass(frozen=True)
class Sources:
    stdlib: list[Doc]
    numpydoc: list[Doc]
    licences: list[Doc]
    readmes: list[Doc]
    vega: list[Doc]
    tables: list[Table]
    cjk: list[Doc]
    locale: list[Doc]
    msgids: list[Doc]
    comments: list[Doc]
    tabs: list[Doc]

    def prose(self) -> list[Doc]:
        """English passages for general outputs."""
        return self.stdlib + self.numpydoc + self.licences + self.readmes + self.vega


def load_sources() -> Sources:
    """Every real text, read once (imports' deprecation warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sources = _load_sources()
    if not sources.locale or not sources.msgids:
        raise RuntimeError(f"no translated messages under {LOCALE}: the non-ASCII rows need its .mo catalogues")
    return sources


def _load_sources() -> Sources:
    return Sources(
        stdlib_docs(),
        numpydoc_docs(),
        licence_docs(),
        readme_docs(),
        vega_description_docs(),
        vega_tables(),
        cjk_docs(),
        locale_docs(),
        msgid_docs(),
        comment_docs(),
        tab_docs(),
    )


# -- text helpers ----------------------------------------------------------------------------------------------

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"'(\[])|(?<=[。！？])")
LEAD_INS = (
    "",
    "",
    "",
    "In short, ",
    "Summary: ",
    "The passage explains that ",
    "According to the documentation, ",
    "Key point: ",
    "TL;DR: ",
    "The text states that ",
)


def is_prose(par: str) -> bool:
    """A paragraph of running text (not code, a table, a heading underline or a list of options)."""
    stripped = par.strip()
    if len(stripped) < 40 or stripped.startswith((">>>", "```", "|", "..", "[!", "![", "<", "{", "$ ", "#")):
        return False
    if re.search(r"^( {2}|\t|[-*+] |\d+\. |\w+ : )", par, re.MULTILINE) or re.search(
        r"^[=\-~^*]{4,}$", par, re.MULTILINE
    ):
        return False
    letters = sum(c.isalpha() or c.isspace() for c in stripped)
    return letters / len(stripped) > 0.8


def reflow(text: str) -> str:
    """A wrapped paragraph as one line."""
    return re.sub(r"\s*\n\s*", " ", text).strip()


ABBREVIATION = re.compile(r"(\b[A-Z]\.|\b(e\.g|i\.e|etc|vs|al|Fig|No|cf|approx|Dr|Mr|Ms|St)\.|^\d+\.|^[a-z]\))$")


def sentences(par: str) -> list[str]:
    """Sentences of a paragraph (reflowed), not split after initials, abbreviations or list numbers."""
    out: list[str] = []
    for piece in (s.strip() for s in SENTENCE_END.split(reflow(par))):
        if out and ABBREVIATION.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        elif piece:
            out.append(piece)
    return out


def full_sentence(text: str) -> bool:
    """A sentence worth outputting: four words or more, not a bare label."""
    return len(text.split()) >= 4 and len(text) >= 20 and not text.endswith(("::", ":"))


def prose_sentences(doc: Doc) -> list[list[str]]:
    """The sentences of each prose paragraph of a passage."""
    return [sentences(p) for p in re.split(r"\n\s*\n", doc.text) if is_prose(p)]


def pick_sentences(rng: random.Random, doc: Doc, count: int) -> list[str]:
    """Up to `count` consecutive sentences of one prose paragraph, or [] when the passage has none."""
    starts = [(par, i) for par in prose_sentences(doc) for i, s in enumerate(par) if full_sentence(s)]
    if not starts:
        return []
    par, start = rng.choice(starts)
    picked = list(itertools.takewhile(full_sentence, par[start : start + count]))
    return picked


def lead_in(rng: random.Random, text: str) -> str:
    """The text, sometimes after a short lead-in (the first letter lower-cased after 'that' or a comma)."""
    prefix = rng.choice(LEAD_INS)
    if prefix.endswith(("that ", ", ")) and text[:1].isupper() and text[1:2].islower():
        text = text[0].lower() + text[1:]
    return prefix + text


def grounded(text: str, context: str | None) -> bool:
    """Every checkable claim of the text occurs verbatim in the context."""
    return not absent_claims(text, context)


def free_text(rng: random.Random, doc: Doc) -> str | None:
    """A normal free-text output of a passage: one sentence, a few, or whole paragraphs (up to ~3,000 chars)."""
    shape = rng.random()
    if shape < 0.35:
        picked = pick_sentences(rng, doc, 1)
        text = lead_in(rng, picked[0]) if picked else None
    elif shape < 0.75:
        picked = pick_sentences(rng, doc, rng.randint(2, 6))
        text = lead_in(rng, " ".join(picked)) if picked else None
    else:
        pars = [p.strip() for p in re.split(r"\n\s*\n", doc.text) if p.strip()]
        start = rng.randrange(len(pars))
        chosen, size = [], 0
        for par in pars[start : start + rng.randint(2, 5)]:
            if size + len(par) > 3000:
                break
            chosen.append(par if rng.random() < 0.5 else (reflow(par) if is_prose(par) else par))
            size += len(par)
        text = "\n\n".join(chosen) if chosen else None
    if not text or len(text) < 20 or not grounded(text, doc.text):
        return None
    return text


# -- JSON outputs ----------------------------------------------------------------------------------------------

JSON_SYNONYMS = {
    "sections": ("sections", "parts", "topics"),
    "points": ("points", "key_points", "highlights"),
    "heading": ("heading", "title", "topic"),
}


def computed_metadata(rng: random.Random, summary: str, num_sources: int) -> dict[str, object]:
    """Fields a model computes (absent from the context): counts, ids, confidence, version, timestamp."""
    created = datetime(2024, 1, 1) + timedelta(seconds=rng.randrange(60 * 60 * 24 * 540))
    fields: dict[str, object] = {
        "word_count": len(summary.split()),
        "char_length": len(summary),
        "num_sources": num_sources,
        rng.choice(("id", "ticket_id", "request_id")): rng.choice(
            (
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                f"TCK-{rng.randint(10000, 99999)}",
                f"sum-{rng.getrandbits(48):012x}",
            )
        ),
        "confidence": round(rng.uniform(0.55, 0.99), 2),
        "version": rng.choice(("1.4.2", "2.0.1", "v3", "2024-06", "0.9.17")),
        "created_at": created.isoformat(timespec="seconds") + rng.choice(("Z", "+00:00", "")),
    }
    keys = sorted(fields)
    rng.shuffle(keys)
    return {k: fields[k] for k in keys[: rng.randint(2, len(keys))]}


def json_payload(rng: random.Random, summary: str, points: list[str], heading: str, depth: int) -> dict:
    """A summary object of exactly `depth` levels: `summary` plus computed metadata, sections and points."""
    meta = computed_metadata(rng, summary, rng.randint(1, 5))
    sec, pts, head = (rng.choice(JSON_SYNONYMS[k]) for k in ("sections", "points", "heading"))
    points = points or [summary]
    payload: dict[str, object] = {"summary": summary}
    if depth == 1:
        payload |= meta
    elif depth == 2:
        payload |= rng.choice(({"metadata": meta}, {pts: points, **meta}))
    elif depth == 3:
        counts = {k: meta.pop(k) for k in ("word_count", "char_length") if k in meta} or {"words": len(summary.split())}
        payload |= {"metadata": {**meta, "counts": counts}, pts: points}
    elif depth == 4:
        payload |= {sec: [{head: heading, pts: points}], "metadata": meta}
    elif depth == 5:
        payload |= {"result": {sec: [{head: heading, pts: points}], "stats": meta}}
    else:
        items = [{"text": p, "source": f"doc-{i + 1}"} for i, p in enumerate(points)]
        payload |= {"result": {sec: [{head: heading, pts: items}]}, "metadata": meta}
    if rng.random() < 0.5:
        keys = list(payload)
        rng.shuffle(keys)
        payload = {k: payload[k] for k in keys}
    assert value_depth(payload) == depth, (depth, payload)
    return payload


def dump_json(rng: random.Random, payload: object, style: str, indent: str | int | None = None) -> str:
    """JSON text: `pretty` (indented) or `compact` (one line), non-ASCII escaped or not."""
    ascii_only = rng.random() < 0.3
    if style == "pretty":
        return json.dumps(payload, indent=indent or rng.choice((2, 2, 4)), ensure_ascii=ascii_only)
    separators = rng.choice(((",", ":"), (", ", ": ")))
    return json.dumps(payload, separators=separators, ensure_ascii=ascii_only)


def summary_payload(rng: random.Random, doc: Doc, depth: int) -> dict | None:
    """A grounded summary object of a passage (summary, points, heading) with computed metadata."""
    picked = pick_sentences(rng, doc, rng.randint(1, 4))
    if not picked:
        return None
    summary = " ".join(picked)
    points = [s for s in pick_sentences(rng, doc, rng.randint(1, 3)) if s != summary]
    strings = [summary, *points, doc.title]
    if not all(grounded(json.dumps(s, ensure_ascii=False), doc.text) for s in strings):
        return None
    return json_payload(rng, summary, points, doc.title or "overview", depth)


def json_output(rng: random.Random, doc: Doc, style: str, depth: int | None = None) -> str | None:
    """A normal JSON output of a passage at depth 1-6, `pretty` or `compact`."""
    payload = summary_payload(rng, doc, depth or rng.randint(1, 6))
    return dump_json(rng, payload, style) if payload else None


# -- normal rows -----------------------------------------------------------------------------------------------

Builder = Callable[[random.Random], Row | None]


def collect(name: str, count: int, build: Builder) -> list[Row]:
    """`count` rows from `build` with a seed of their own, skipping failed attempts and duplicate outputs."""
    rng = random.Random(f"{SEED}:{name}")
    rows: list[Row] = []
    seen: set[str | None] = set()
    for _ in range(count * 200):
        if len(rows) == count:
            return rows
        row = build(rng)
        if row is None or (row.output_text in seen and row.output_text not in (None, "")):
            continue
        seen.add(row.output_text)
        rows.append(row)
    raise RuntimeError(f"{name}: only {len(rows)} of {count} rows could be built")


def normal(output: str, doc: Doc, detail: str, context: str | None = None) -> Row:
    return Row(output, doc.text if context is None else context, "normal", detail, doc.source)


def pick(rng: random.Random, *pools: list[Doc]) -> Doc:
    """A passage from one of the pools (each pool equally likely)."""
    return rng.choice(rng.choice([p for p in pools if p]))


def excerpt_rows(src: Sources, count: int) -> list[Row]:
    """Plain free-text excerpts and summaries, one sentence to several paragraphs."""

    def build(rng: random.Random) -> Row | None:
        doc = pick(rng, src.stdlib, src.numpydoc, src.readmes, src.readmes, src.licences, src.vega, src.comments)
        text = free_text(rng, doc)
        return normal(text, doc, "excerpt") if text else None

    return collect("excerpt", count, build)


def markdown_list_rows(src: Sources, count: int) -> list[Row]:
    """Multi-line outputs: key points as a markdown list, sometimes under a heading."""

    def build(rng: random.Random) -> Row | None:
        doc = pick(rng, src.stdlib, src.numpydoc, src.readmes, src.licences)
        picked = pick_sentences(rng, doc, rng.randint(2, 7))
        if len(picked) < 2:
            return None
        marker = rng.choice(("- ", "* ", "1. "))
        items = [(f"{i + 1}. " if marker == "1. " else marker) + s for i, s in enumerate(picked)]
        header = rng.choice(("", "Key points:\n", "## Summary\n\n", "**Summary**\n\n", "Main takeaways:\n\n"))
        text = header + "\n".join(items)
        return normal(text, doc, "markdown_list") if grounded(text, doc.text) else None

    return collect("markdown_list", count, build)


def json_rows(src: Sources, count: int, style: str) -> list[Row]:
    """JSON summaries (depth 1-6, `pretty` or `compact`) with computed metadata absent from the context."""

    def build(rng: random.Random) -> Row | None:
        doc = pick(rng, src.stdlib, src.numpydoc, src.readmes, src.licences, src.vega)
        text = json_output(rng, doc, style, rng.randint(1, 6))
        return normal(text, doc, f"json_{style}") if text else None

    return collect(f"json_{style}", count, build)


SCRIPT_GROUPS = {
    "rtl": ("ar", "he", "fa", "ug", "yi", "ps", "ur"),
    "cjk": ("ja", "ko", "zh_CN", "zh_TW"),
    "other_scripts": ("ru", "uk", "el", "hi", "mr", "bn", "ta", "th", "ka", "hy", "am", "km", "ne"),
    "latin_accents": ("fr", "de", "es", "vi", "pl", "cs", "tr", "pt_BR"),
}


def _lang(doc: Doc) -> str:
    match = re.search(r"\.mo \(([\w@]+)\)", doc.source)
    return match.group(1) if match else ""


def has_emoji(text: str) -> bool:
    return any(ord(c) >= 0x1F000 or 0x2600 <= ord(c) <= 0x27BF for c in text)


def non_ascii_pools(src: Sources) -> dict[str, list[Doc]]:
    """Non-ASCII passages grouped by script (right-to-left, CJK, other scripts, accented Latin, emoji)."""
    pools = {group: [d for d in src.locale if _lang(d) in langs] for group, langs in SCRIPT_GROUPS.items()}
    pools["cjk"] += src.cjk
    pools["emoji"] = [d for d in src.readmes if has_emoji(d.text)]
    pools["mixed"] = [d for d in src.readmes if not has_emoji(d.text) and sum(ord(c) > 0x2FF for c in d.text) > 8]
    return pools


def line_excerpt(rng: random.Random, doc: Doc, most: int = 5) -> str:
    """A few consecutive non-empty lines of a passage, verbatim."""
    lines = [line for line in doc.text.split("\n") if line.strip()]
    start = rng.randrange(len(lines))
    return "\n".join(lines[start : start + rng.randint(1, most)])


def non_ascii_rows(src: Sources, count: int) -> list[Row]:
    """Outputs in other scripts: right-to-left, CJK, Cyrillic/Greek/Indic/Thai..., accents, emoji; some JSON."""
    pools = non_ascii_pools(src)
    groups = sorted(pools)

    def build(rng: random.Random) -> Row | None:
        group = rng.choice(groups)
        doc = rng.choice(pools[group])
        if group == "emoji":
            lines = doc.text.split("\n")
            at = rng.choice([i for i, line in enumerate(lines) if has_emoji(line)])
            text = "\n".join(lines[at : at + rng.randint(1, 4)]).strip()
        else:
            text = free_text(rng, doc) if group == "mixed" else line_excerpt(rng, doc)
        foreign = sum(c.isalpha() and not c.isascii() for c in text)
        if not text or len(text.strip()) < 10 or not (foreign >= 3 or has_emoji(text)) or not grounded(text, doc.text):
            return None
        if rng.random() < 0.25:
            payload = {"summary": text, **computed_metadata(rng, text, 1)}
            text = dump_json(rng, payload, rng.choice(("pretty", "compact")))
        return normal(text, doc, "non_ascii")

    return collect("non_ascii", count, build)


def tab_rows(src: Sources, count: int) -> list[Row]:
    """Outputs with literal tabs: mime.types and Makefile lines, TSV of data rows, tab-indented JSON."""
    tables = [t for t in src.tables if all("\t" not in c for r in t.rows for c in r)]

    def build(rng: random.Random) -> Row | None:
        shape = rng.random()
        if shape < 0.5:
            doc = rng.choice(src.tabs)
            lines = doc.text.split("\n")
            tabbed = [i for i, line in enumerate(lines) if "\t" in line]
            start = rng.choice(tabbed)
            return normal("\n".join(lines[start : start + rng.randint(2, 12)]), doc, "tabs")
        if shape < 0.8:
            table = rng.choice(tables)
            rows = table.rows[: rng.randint(2, 10)]
            doc = Doc(table.source, csv_text(table.header, table.rows))
            return normal(csv_text(table.header, rows, "\t"), doc, "tabs")
        doc = pick(rng, src.stdlib, src.readmes)
        picked = pick_sentences(rng, doc, 3)
        if not picked or not grounded(json.dumps(" ".join(picked)), doc.text):
            return None
        payload = json_payload(rng, " ".join(picked), picked[1:], doc.title or "overview", rng.randint(2, 6))
        return normal(json.dumps(payload, indent="\t", ensure_ascii=False), doc, "tabs")

    return collect("tabs", count, build)


QUOTE_FRAMES = (
    "The documentation says: “{q}”",
    "As the text puts it, “{q}”.",
    "Quoting the source: “{q}”",
    "The key sentence is “{q}”",
    "It notes that “{q}”",
    "In the words of the passage, “{q}”",
)


def squash(text: str) -> str:
    """Text with whitespace runs as one space, typographic quotes as straight ones, NFC and case-folded."""
    text = unicodedata.normalize("NFC", text).translate(str.maketrans("“”‘’", "\"\"''"))
    return re.sub(r"\s+", " ", text).casefold()


def _raw_sentence(rng: random.Random, doc: Doc) -> tuple[str, str] | None:
    """A sentence of a passage as it stands in the text (line breaks and spacing kept) and reflowed."""
    pars = [p for p in re.split(r"\n\s*\n", doc.text) if is_prose(p)]
    if not pars:
        return None
    par = rng.choice(pars)
    parts = [s for s in re.split(r"(?<=[.!?])(\s+)(?=[A-Z])", par) if s.strip()]
    raw = rng.choice(parts).strip()
    return (raw, reflow(raw)) if 30 <= len(raw) <= 400 else None


def quote_variant(rng: random.Random, src: Sources, variant: str) -> tuple[str, Doc, str] | None:
    """(quoted text, passage, context) where the quotation is in the context only up to whitespace, quote style,
    letter case or Unicode normalisation."""
    if variant == "nfc_nfd":
        doc = rng.choice([d for d in src.locale if _lang(d) in SCRIPT_GROUPS["latin_accents"]])
        line = rng.choice(doc.text.split("\n")).strip()
        if len(line) < 20 or unicodedata.normalize("NFD", line) == line:
            return None
        forms = ("NFD", "NFC") if rng.random() < 0.7 else ("NFC", "NFD")
        context = unicodedata.normalize(forms[0], doc.text)
        return unicodedata.normalize(forms[1], line), doc, context
    doc = pick(rng, src.stdlib, src.numpydoc, src.licences, src.readmes)
    found = _raw_sentence(rng, doc)
    if not found:
        return None
    raw, flat = found
    if variant == "line_breaks" and "\n" in raw:
        quote = flat
    elif variant == "spaces" and "  " in raw.replace("\n", " ") and "\n" not in raw:
        quote = re.sub(r" {2,}", " ", raw)
    elif variant == "quote_style" and re.search(r"['\"]", flat):
        quote = re.sub(r"\"([^\"]*)\"", r"‘\1’", flat).replace("'", "’")
    elif variant == "case" and re.match(r"[A-Z][a-z]", flat) and " " in flat:
        words = flat.split(" ")
        cut = rng.randint(1, min(6, len(words) - 2)) if len(words) > 4 and rng.random() < 0.5 else 0
        rest = " ".join(words[cut:])
        quote = rest[0].upper() + rest[1:] if cut else rest[0].lower() + rest[1:]
        if quote in doc.text:
            return None
    else:
        return None
    return quote, doc, doc.text


def quote_variant_rows(src: Sources, count: int) -> list[Row]:
    """Quotations present in the context up to line breaks, spaces, quote style, case or NFC/NFD; some JSON."""
    variants = ("line_breaks", "spaces", "quote_style", "case", "nfc_nfd")

    def build(rng: random.Random) -> Row | None:
        found = quote_variant(rng, src, rng.choice(variants))
        if not found:
            return None
        quote, doc, context = found
        if quote in context or squash(quote) not in squash(context) or len(quote) < 12 or "”" in quote:
            return None
        text = rng.choice(QUOTE_FRAMES).format(q=quote)
        if rng.random() < 0.3:
            payload = {"summary": text.replace("“", '"').replace("”", '"'), **computed_metadata(rng, quote, 1)}
            text = dump_json(rng, payload, rng.choice(("pretty", "compact")))
        return normal(text, doc, "quote_variant", context)

    return collect("quote_variant", count, build)


NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(%| percent\b)?(?!\w|[.,]\d)")


def reformat_number(match: re.Match[str]) -> str:
    """The same number written differently: thousands separators, trailing zeros, % vs percent."""
    whole, frac, pct = match.group(1), match.group(2) or "", match.group(3) or ""
    if pct:
        return whole + frac + (" percent" if pct == "%" else "%")
    if "," in whole:
        return whole.replace(",", "") + frac
    if len(whole) >= 4 and not (frac == "" and 1800 <= int(whole) <= 2100):
        return f"{int(whole):,}" + frac
    if frac:
        if frac.endswith("0") and len(frac) > 2:
            return whole + frac.rstrip("0")
        if frac.strip(".0") == "":
            return whole
        if len(frac) == 2:
            return whole + frac + "0"
    return match.group(0)


def reformat_numbers(text: str) -> str:
    """Every number outside a URL written differently (a URL with a changed number is another URL)."""
    pieces = re.split(r"(https?://[^\s)\]>]+)", text)
    return "".join(piece if i % 2 else NUMBER.sub(reformat_number, piece) for i, piece in enumerate(pieces))


def table_sentence(rng: random.Random, table: Table) -> tuple[str, list[str]]:
    """A sentence stating the values of one data row, and the row."""
    row = rng.choice(table.rows)
    cells = [(h.replace("_", " "), v) for h, v in zip(table.header, row, strict=True) if v]
    named = [c for c in cells if not re.fullmatch(r"[\d.,/: -]+", c[1])]
    subject = (named or cells)[0]
    rest = [c for c in cells if c is not subject]
    rng.shuffle(rest)
    facts = ", ".join(f"{h} is {v}" for h, v in rest[: rng.randint(2, 4)])
    return f"For {subject[0]} {subject[1]}, {facts}.", row


def number_format_rows(src: Sources, count: int) -> list[Row]:
    """Numbers written differently from the context: 1,000 vs 1000, 15% vs 15 percent, 3.50 vs 3.5."""
    numeric = [d for d in src.prose() if re.search(r"\d{4,}|\d%|\d percent|\d\.\d0\b|\d{1,3},\d{3}", d.text)]

    def build(rng: random.Random) -> Row | None:
        if rng.random() < 0.5:
            table = rng.choice(src.tables)
            text, _ = table_sentence(rng, table)
            doc = Doc(table.source, csv_text(table.header, table.rows))
        else:
            doc = rng.choice(numeric)
            sents = [s for p in prose_sentences(doc) for s in p if NUMBER.search(s) and full_sentence(s)]
            text = lead_in(rng, " ".join(sents[(i := rng.randrange(len(sents))) : i + 2])) if sents else None
        if not text:
            return None
        changed = reformat_numbers(text)
        if changed == text or not absent_claims(changed, doc.text):
            return None
        if rng.random() < 0.25:
            changed = dump_json(rng, {"summary": changed, **computed_metadata(rng, changed, 1)}, "compact")
        return normal(changed, doc, "number_format")

    return collect("number_format", count, build)


def maybe_json(rng: random.Random, text: str, context: str, share: float = 0.25) -> str:
    """A quarter of the time the text as the `summary` of a JSON output (when its escaped quotes stay grounded)."""
    if rng.random() >= share or not grounded(json.dumps(text, ensure_ascii=False), context):
        return text
    payload = {"summary": text, **computed_metadata(rng, text, 1)}
    return dump_json(rng, payload, rng.choice(("pretty", "compact")))


def _family(doc: Doc) -> str:
    """The document a passage belongs to (its module or package), to retrieve related passages together."""
    return re.split(r"[ .(]", doc.source.split(":", 1)[1])[0]


def retrieval_context(rng: random.Random, docs: list[Doc], first: Doc) -> tuple[str, list[Doc]]:
    """A context of 2-4 numbered chunks ("[1] ...") of the same family as `first`, which is among them."""
    related = [d for d in docs if _family(d) == _family(first) and d is not first and len(d.text) <= 1500]
    chunks = [first, *rng.sample(related, min(len(related), rng.randint(1, 3)))]
    rng.shuffle(chunks)
    return "\n\n".join(f"[{i + 1}] {d.text}" for i, d in enumerate(chunks)), chunks


def citation_rows(src: Sources, count: int) -> list[Row]:
    """[n] citations that the context holds: numpydoc References, vega references, numbered retrieval chunks."""
    cited = [d for d in src.numpydoc + src.vega if re.search(r"\[\d+\]_", d.text)]
    short = [d for d in src.stdlib + src.readmes if 200 <= len(d.text) <= 1500]

    def from_references(rng: random.Random) -> Row | None:
        doc = rng.choice(cited)
        sents = [s for p in prose_sentences(doc) for s in p if re.search(r"\[\d+\]_", s) and full_sentence(s)]
        if not sents:
            return None
        text = lead_in(rng, " ".join(sents[: rng.randint(1, 3)]).replace("]_", "]"))
        return normal(text, doc, "citations") if grounded(text, doc.text) else None

    def from_chunks(rng: random.Random) -> Row | None:
        first = rng.choice(short)
        context, chunks = retrieval_context(rng, short, first)
        parts = []
        for i, chunk in enumerate(chunks):
            picked = pick_sentences(rng, chunk, rng.randint(1, 2))
            if picked and rng.random() < 0.8:
                parts.append(f"{' '.join(picked)} [{i + 1}]")
        if not parts:
            return None
        if rng.random() < 0.3:
            payload = {"summary": " ".join(parts), "num_sources": len(chunks), "cited": len(parts)}
            text = dump_json(rng, payload, rng.choice(("pretty", "compact")))
        elif rng.random() < 0.4:
            text = "\n".join(f"- {p}" for p in parts)
        else:
            text = " ".join(parts)
        doc = Doc(" + ".join(c.source for c in chunks), context)
        return normal(text, doc, "citations") if grounded(" ".join(parts), context) else None

    return collect("citations", count, lambda rng: (from_references if rng.random() < 0.4 else from_chunks)(rng))


REFUSAL_WORDS = re.compile(r"\b(cannot|can't|can not|unable|sorry|won't|not able)\b", re.IGNORECASE)
FIRST_PERSON = re.compile(r"\bI (can't|cannot|couldn't|could not|am unable|won't)\b|\bsorry\b", re.IGNORECASE)


def refusal_word_rows(src: Sources, count: int) -> list[Row]:
    """Texts where "cannot", "unable", "sorry", "I can't" are content: docstrings, quoted errors, complaints."""
    docs = [d for d in src.stdlib + src.numpydoc + src.readmes if REFUSAL_WORDS.search(d.text)]
    messages = [d for d in src.msgids if REFUSAL_WORDS.search(d.text)]
    comments = [d for d in src.comments if FIRST_PERSON.search(d.text)]

    def documentation(rng: random.Random) -> tuple[str | None, Doc] | None:
        doc = rng.choice(docs)
        sents = [s for p in prose_sentences(doc) for s in p]
        hits = [i for i, s in enumerate(sents) if REFUSAL_WORDS.search(s)]
        if not hits:
            return None
        i = rng.choice(hits)
        text = lead_in(rng, " ".join(sents[max(0, i - rng.randint(0, 1)) : i + rng.randint(1, 3)]))
        return text if grounded(text, doc.text) else None, doc

    def error_message(rng: random.Random) -> tuple[str | None, Doc] | None:
        doc = rng.choice(messages)
        lines = [m for m in doc.text.split("\n") if REFUSAL_WORDS.search(m) and "”" not in m]
        if not lines:
            return None
        frame = rng.choice(
            (
                "The command fails with the error “{m}”",
                "The log shows: “{m}”",
                "It reports “{m}” and stops.",
                "Users see the message “{m}” when this happens.",
            )
        )
        return frame.format(m=rng.choice(lines)), doc

    def complaint(rng: random.Random) -> tuple[str | None, Doc] | None:
        doc = rng.choice(comments)
        sents = sentences(doc.text)
        hits = [s for s in sents if FIRST_PERSON.search(s)]
        if not hits:
            return None
        quote = rng.choice(hits)
        frame = rng.choice(
            (
                'A developer comment says: "{q}"',
                "The author of the code complains: {q}",
                "The comment admits the limitation — {q}",
                "The note in the source reads: {q}",
            )
        )
        text = frame.format(q=quote)
        return text if grounded(text, doc.text) else None, doc

    def build(rng: random.Random) -> Row | None:
        found = rng.choice((documentation, documentation, error_message, complaint))(rng)
        if not found or not found[0] or not REFUSAL_WORDS.search(found[0]):
            return None
        text, doc = found
        return normal(maybe_json(rng, text, doc.text), doc, "refusal_words")

    return collect("refusal_words", count, build)


def _line_blocks(text: str, is_item: Callable[[str], bool], least: int) -> list[list[str]]:
    """Runs of at least `least` consecutive lines that satisfy `is_item`."""
    blocks, current = [], []
    for line in [*text.split("\n"), ""]:
        if is_item(line):
            current.append(line)
            continue
        if len(current) >= least:
            blocks.append(current)
        current = []
    return blocks


def _list_item(line: str) -> bool:
    return bool(re.match(r"\s*([-*+] |\d+\. |\(\w\) )\S", line))


def _table_line(line: str) -> bool:
    return line.strip().startswith("|") and line.strip().endswith("|")


def repeated_structure_rows(src: Sources, count: int) -> list[Row]:
    """Legitimate repetition: licence clauses, lists whose items start alike, markdown tables with | --- | rows,
    RST headings underlined with ===== / -----, code blocks of similar lines, CSV rows."""
    licences = [d for d in src.licences if re.search(r"Redistributions|shall mean|\n\s*\d+\. |\(\w\) ", d.text)]
    lists = [(d, b) for d in src.readmes + src.stdlib for b in _line_blocks(d.text, _list_item, 3)]
    tables = [(d, b) for d in src.readmes for b in _line_blocks(d.text, _table_line, 3) if "---" in "".join(b)]
    underlined = [d for d in src.numpydoc + src.readmes if re.search(r"\n[=\-~]{4,}\n", d.text)]
    code = [d for d in src.readmes if re.search(r"```\w*\n(.+\n){3,}```", d.text)]

    def licence(rng: random.Random) -> tuple[str, Doc]:
        doc = rng.choice(licences)
        lines = doc.text.split("\n")
        start = rng.randrange(max(1, len(lines) - 8))
        return "\n".join(lines[start : start + rng.randint(8, 30)]).strip(), doc

    def list_block(rng: random.Random) -> tuple[str, Doc]:
        doc, block = rng.choice(lists)
        return "\n".join(block[: rng.randint(3, 12)]), doc

    def md_table(rng: random.Random) -> tuple[str, Doc]:
        if rng.random() < 0.5:
            doc, block = rng.choice(tables)
            return "\n".join(block), doc
        table = rng.choice(src.tables)
        rows = table.rows[: rng.randint(3, 10)]
        return markdown_table(table.header, rows), Doc(table.source, csv_text(table.header, table.rows))

    def heading(rng: random.Random) -> tuple[str, Doc]:
        doc = rng.choice(underlined)
        spots = [m.start() for m in re.finditer(r"(?m)^\S.*\n[=\-~]{4,}$", doc.text)]
        start = rng.choice(spots)
        end = doc.text.find("\n\n", doc.text.find("\n\n", start) + 2)
        return doc.text[start : end if end > 0 else None][:1500].rstrip(), doc

    def code_block(rng: random.Random) -> tuple[str, Doc]:
        doc = rng.choice(code)
        block = rng.choice(re.findall(r"```\w*\n(?:.+\n){3,}?```", doc.text))
        before = pick_sentences(rng, doc, 1)
        return (f"{before[0]}\n\n{block}" if before and rng.random() < 0.5 else block), doc

    def csv_rows(rng: random.Random) -> tuple[str, Doc]:
        table = rng.choice(src.tables)
        start = rng.randrange(len(table.rows) - 3)
        rows = table.rows[start : start + rng.randint(3, 12)]
        return csv_text(table.header, rows), Doc(table.source, csv_text(table.header, table.rows))

    shapes = (licence, list_block, md_table, heading, code_block, csv_rows)

    def build(rng: random.Random) -> Row | None:
        text, doc = rng.choice(shapes)(rng)
        if not 40 <= len(text) <= 3000 or not grounded(text, doc.text):
            return None
        return normal(text, doc, "repeated_structure")

    return collect("repeated_structure", count, build)


LOOKALIKES = {
    "isbn": r"ISBN[-: ]*(?:97[89][- ]?)?\d[\d -]{8,14}[\dX]\b",
    "uuid": r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
    "hex_hash": r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{32,64}\b",
    "ip_address": r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b",
    "version": r"\b[vV]?\d+\.\d+\.\d+(?:rc\d+|\.post\d+)?\b(?!\.\d)",
    "date": r"\b(?:19|20)\d\d-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])\b",
    "time": r"\b(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?\b",
    "ticket_number": r"\b(?:GH|gh|bpo|BPO|issue|Issue|PR)[-# ]#?\d{3,6}\b",
    "long_number": r"(?<![\d.,])\d{16}(?![\d.,])",
}


LOOKALIKE_FRAMES = ("It refers to {m}.", "The text mentions {m}.", "Note the value {m}.", "See {m}.")


def lookalike_candidates(src: Sources) -> dict[str, list[tuple[Doc, str, str]]]:
    """For each look-alike type, (passage, line, match) triples from the real text."""
    docs = src.prose() + src.comments + src.tabs
    found: dict[str, list[tuple[Doc, str, str]]] = {}
    for name, pattern in LOOKALIKES.items():
        regex = re.compile(pattern)
        found[name] = [
            (doc, line.strip(), match.group())
            for doc in docs
            for line in doc.text.split("\n")
            if (match := regex.search(line)) and 20 <= len(line.strip()) <= 400
        ]
        if name == "long_number":
            found[name] = [c for c in found[name] if not luhn_ok(c[2])]
    return found


def iban_like(rng: random.Random) -> str:
    """An IBAN-shaped reference whose check digits are wrong (made up: no such string ships offline)."""
    country, length = rng.choice((("DE", 22), ("FR", 27), ("GB", 22), ("NL", 18), ("ES", 24), ("IT", 27)))
    while True:
        body = "".join(rng.choice("0123456789") for _ in range(length - 4))
        if country in ("GB", "NL"):
            body = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4)) + body[4:]
        text = f"{country}{rng.randint(2, 98):02d}{body}"
        spaced = " ".join(text[i : i + 4] for i in range(0, len(text), 4))
        if iban_remainder(text) != 1 and not has_personal_data(spaced):
            return spaced


def pii_lookalike_rows(src: Sources, count: int) -> list[Row]:
    """Strings that look like personal data but are not: ISBNs, UUIDs, hashes, IPs, versions, dates, times,
    issue numbers, prices, 16-digit numbers failing Luhn, IBAN-like strings with wrong check digits."""
    candidates = lookalike_candidates(src)
    stocks = [t for t in src.tables if "stocks.csv" in t.source or "ohlc.json" in t.source]
    names = [*sorted(n for n in candidates if candidates[n]), "price", "iban_like"]

    def build(rng: random.Random) -> Row | None:
        name = rng.choice(names)
        if name == "price":
            table = rng.choice(stocks)
            row = dict(zip(table.header, rng.choice(table.rows), strict=True))
            price = row.get("price") or row.get("close")
            text = f"{row.get('symbol', 'The index')} closed at ${price} on {row['date']}."
            return normal(text, Doc(table.source, csv_text(table.header, table.rows)), "pii_lookalike")
        if name == "iban_like":
            ref = iban_like(rng)
            context = (
                f"Payment reference check\n\nThe reference {ref} was entered in the account field of the test "
                "form. It has the shape of an IBAN, but its check digits do not satisfy the ISO 13616 mod-97 "
                "rule, so the form rejected it before any lookup."
            )
            text = f"The form rejected {ref}: it looks like an IBAN, but its check digits fail the mod-97 rule."
            doc = Doc("constructed:IBAN-like reference with wrong check digits", context)
            return normal(text, doc, "pii_lookalike")
        doc, line, match = rng.choice(candidates[name])
        if rng.random() < 0.5:
            frames = (*LOOKALIKE_FRAMES, "Cited: {m}.") if name == "isbn" else LOOKALIKE_FRAMES
            text = rng.choice(frames).format(m=match)
        elif is_prose(line) or len(line.split()) > 6:
            text = lead_in(rng, line)
        else:
            text = line
        if not grounded(text, doc.text):
            return None
        return normal(maybe_json(rng, text, doc.text), doc, "pii_lookalike")

    return collect("pii_lookalike", count, build)


def no_context_rows(src: Sources, count: int) -> list[Row]:
    """Outputs given with a null or an empty context (answers without retrieval)."""

    def build(rng: random.Random) -> Row | None:
        doc = pick(rng, src.stdlib, src.readmes, src.numpydoc)
        text = json_output(rng, doc, "compact") if rng.random() < 0.3 else free_text(rng, doc)
        return normal(text, doc, "no_context", "") if text else None

    rows = collect("no_context", count, build)
    return [Row(r.output_text, None if i % 2 else "", r.kind, r.detail, r.source) for i, r in enumerate(rows)]


# -- abnormal rows ---------------------------------------------------------------------------------------------


def abnormal(kind: str, detail: str, output: str | None, doc: Doc, context: str | None = None) -> Row:
    return Row(output, doc.text if context is None else context, kind, detail, doc.source)


def base_pool(rng: random.Random, src: Sources) -> list[Doc]:
    return rng.choice((src.stdlib, src.numpydoc, src.readmes, src.licences, src.vega))


def base_doc(rng: random.Random, src: Sources) -> Doc:
    return rng.choice(base_pool(rng, src))


def base_text(rng: random.Random, src: Sources) -> tuple[str, Doc] | None:
    """A normal free-text output and its passage, to derive a failure from."""
    doc = base_doc(rng, src)
    text = free_text(rng, doc)
    return (text, doc) if text and len(text) >= 40 else None


def base_any(rng: random.Random, src: Sources, json_share: float = 0.3) -> tuple[str, Doc] | None:
    """A normal output, free text or (sometimes) JSON."""
    if rng.random() < json_share:
        doc = base_doc(rng, src)
        text = json_output(rng, doc, rng.choice(("pretty", "compact")))
        return (text, doc) if text else None
    return base_text(rng, src)


def by_detail(name: str, details: dict[str, Callable[[random.Random], Row | None]], each: int) -> list[Row]:
    """`each` rows of every sub-kind."""
    return [row for detail, build in details.items() for row in collect(f"{name}:{detail}", each, build)]


def missing_rows(src: Sources, each: int) -> list[Row]:
    """Null, empty and whitespace-only outputs."""
    blanks = (" ", "\n", "\n\n", "   ", "\t", " \n ", "\n\n\n\n", "\u00a0", " \t\n", "\r\n")

    def make(output: Callable[[random.Random], str | None], detail: str) -> Callable[[random.Random], Row]:
        return lambda rng: abnormal("missing", detail, output(rng), base_doc(rng, src))

    details = {
        "null": make(lambda rng: None, "null"),
        "empty": make(lambda rng: "", "empty"),
        "whitespace_only": make(lambda rng: rng.choice(blanks) * rng.randint(1, 3), "whitespace_only"),
    }
    return by_detail("missing", details, each)


def _insert(rng: random.Random, text: str, piece: str) -> str:
    """`piece` inserted at a word boundary, or at the end."""
    spaces = [m.start() for m in re.finditer(r" ", text)]
    if not spaces or rng.random() < 0.3:
        return text + piece
    at = rng.choice(spaces)
    return text[:at] + piece + text[at:]


def mojibake(rng: random.Random, text: str) -> str:
    """Broken decoding: UTF-8 read as ASCII, a stream chunk split inside a character, or a legacy encoding."""
    raw = text.encode("utf-8")
    way = rng.choice(("ascii", "split", "legacy"))
    if way == "ascii":
        return raw.decode("ascii", errors="replace")
    if way == "split":
        cuts = [i for i in range(1, len(raw)) if raw[i] & 0xC0 == 0x80]
        at = rng.choice(cuts)
        return raw[:at].decode("utf-8", errors="replace") + raw[at:].decode("utf-8", errors="replace")
    for codec in ("cp1252", "gb18030", "euc_jp", "euc_kr", "cp1251", "cp1253", "cp1255", "cp1256"):
        try:
            return text.encode(codec).decode("utf-8", errors="replace")
        except UnicodeEncodeError:
            continue
    return raw.decode("ascii", errors="replace")


def bad_character_rows(src: Sources, each: int) -> list[Row]:
    """NUL bytes, ANSI colour escapes, BEL, backspace, form feed, vertical tab, U+FFFD from broken decoding,
    UTF-8 misread as Windows-1252."""
    accented = [d for pool in non_ascii_pools(src).values() for d in pool if not d.source.startswith("readme")]

    def corrupt(detail: str, change: Callable[[random.Random, str], str]) -> Callable[[random.Random], Row | None]:
        def build(rng: random.Random) -> Row | None:
            found = base_text(rng, src)
            return abnormal("bad_characters", detail, change(rng, found[0]), found[1]) if found else None

        return build

    def ansi(rng: random.Random, text: str) -> str:
        words = text.split(" ")
        i = rng.randrange(len(words))
        code = rng.choice(("\x1b[31m", "\x1b[1;32m", "\x1b[33m", "\x1b[1m", "\x1b[36m", "\x1b[0;34m"))
        words[i] = f"{code}{words[i]}\x1b[0m"
        return " ".join(words) if rng.random() < 0.7 else f"\x1b[32m✔\x1b[0m {text}"

    def backspace(rng: random.Random, text: str) -> str:
        words = [m for m in re.finditer(r"[a-z]{4,}", text)]
        if not words:
            return text + "\x08"
        m = rng.choice(words)
        typo = m.group()[:2] + m.group()[3] + m.group()[2] + "\x08\x08" + m.group()[2:]
        return text[: m.start()] + typo + text[m.end() :]

    def misread(rng: random.Random) -> Row | None:
        """UTF-8 read as Windows-1252 (Latin-1 where a byte has no Windows-1252 character): "cafÃ©"."""
        doc = rng.choice(accented)
        raw = line_excerpt(rng, doc, 4).encode("utf-8")
        try:
            bad = raw.decode("cp1252")
        except UnicodeDecodeError:
            bad = raw.decode("latin-1")
        return abnormal("bad_characters", "mojibake", bad, doc) if not bad.isascii() else None

    def broken(rng: random.Random) -> Row | None:
        doc = rng.choice(accented)
        text = line_excerpt(rng, doc, 4)
        bad = mojibake(rng, text)
        return abnormal("bad_characters", "replacement_character", bad, doc) if "\ufffd" in bad else None

    details = {
        "nul_byte": corrupt("nul_byte", lambda rng, t: _insert(rng, t, "\x00" * rng.choice((1, 1, 4, 16)))),
        "ansi_escape": corrupt("ansi_escape", ansi),
        "bell": corrupt("bell", lambda rng, t: _insert(rng, t, "\x07")),
        "backspace": corrupt("backspace", backspace),
        "form_feed": corrupt(
            "form_feed", lambda rng, t: t.replace("\n\n", "\n\x0c\n", 1) if "\n\n" in t else t + "\x0c"
        ),
        "vertical_tab": corrupt(
            "vertical_tab", lambda rng, t: t.replace(". ", ".\x0b", 1) if ". " in t else t + "\x0b"
        ),
        "replacement_character": broken,
        "mojibake": misread,
    }
    return by_detail("bad_characters", details, each)


def special_token_rows(src: Sources, each: int) -> list[Row]:
    """Leaked special tokens inside or at the end of normal outputs (free text and JSON)."""

    def leak(token: str, place: Callable[[random.Random, str], str]) -> Callable[[random.Random], Row | None]:
        def build(rng: random.Random) -> Row | None:
            found = base_any(rng, src)
            if not found:
                return None
            leaked = place(rng, found[0])
            return abnormal("special_token", token, leaked, found[1]) if token in leaked else None

        return build

    def other_text(rng: random.Random) -> str:
        found = base_text(rng, src)
        return found[0][:200] if found else "Usage"

    def between_sentences(token: str) -> Callable[[random.Random, str], str]:
        return lambda rng, t: t.replace(". ", f". {token} ", 1) if ". " in t else f"{t} {token}"

    def unk(rng: random.Random, text: str) -> str:
        swapped = re.sub(r"[^\x00-\x7f]", "<unk>", text)
        return swapped if swapped != text else _insert(rng, text, " <unk>")

    details = {
        "<|endoftext|>": lambda rng, t: t + "<|endoftext|>" + (other_text(rng) if rng.random() < 0.5 else ""),
        "<|im_start|>": lambda rng, t: rng.choice(
            (f"<|im_start|>assistant\n{t}", f"{t}\n<|im_start|>user\nThanks! Can you also", f"{t}<|im_start|>")
        ),
        "<|im_end|>": lambda rng, t: t + rng.choice(("<|im_end|>", "<|im_end|>\n<|im_start|>user\n", " <|im_end|>")),
        "</s>": lambda rng, t: t + rng.choice(("</s>", " </s>", "</s></s>", "\n</s>")),
        "<s>": lambda rng, t: rng.choice((f"<s> {t}", f"<s>{t}", between_sentences("<s>")(rng, t))),
        "[PAD]": lambda rng, t: t + rng.choice((" [PAD]", "[PAD]" * rng.randint(2, 12), " [PAD] [PAD] [PAD]")),
        "<unk>": unk,
        "[SEP]": lambda rng, t: rng.choice((between_sentences("[SEP]")(rng, t), f"{t} [SEP]", f"[CLS] {t} [SEP]")),
    }
    return by_detail("special_token", {k: leak(k, v) for k, v in details.items()}, each)


def _until_share(prefix: str, unit: str, rng: random.Random, share: float = 0.6, least: int = 8) -> str:
    """`prefix` followed by `unit` repeated until the repeats are over `share` of the output."""
    times = max(least, int(len(prefix) * share / (1 - share) / max(1, len(unit))) + 1)
    looped = prefix + unit * (times + rng.randint(0, times // 2))
    return looped[: -rng.randint(1, max(1, len(unit) - 1))] if rng.random() < 0.4 and len(unit) > 2 else looped


def repetition_rows(src: Sources, each: int) -> list[Row]:
    """Runaway generation: phrase and sentence loops, character and punctuation runs, token stutters (also CJK and
    HTML) and repeated lines."""
    cjk = [d for d in src.cjk + src.locale if _lang(d) in SCRIPT_GROUPS["cjk"] or d.source.startswith("cpython:")]

    def derive(detail: str, make: Callable[[random.Random, str], str | None]) -> Callable[[random.Random], Row | None]:
        def build(rng: random.Random) -> Row | None:
            found = base_text(rng, src)
            looped = make(rng, found[0]) if found else None
            return abnormal("repetition", detail, looped, found[1]) if found and looped else None

        return build

    def phrase_loop(rng: random.Random, text: str) -> str | None:
        words = text.split()
        if len(words) < 8:
            return None
        start = rng.randrange(len(words) - 5)
        phrase = " ".join(words[start : start + rng.randint(3, 8)])
        return _until_share(" ".join(words[: start + 1]) + " ", phrase + rng.choice((" ", ", ", " and ")), rng)

    def sentence_loop(rng: random.Random, text: str) -> str | None:
        sents = [s for s in sentences(text) if full_sentence(s)]
        if not sents:
            return None
        i = rng.randrange(len(sents))
        return _until_share(" ".join(sents[: i + 1]) + " ", sents[i] + " ", rng).rstrip()

    def char_run(rng: random.Random, text: str) -> str | None:
        words = re.findall(r"[A-Za-z]{3,}", text[:300])
        if not words:
            return None
        word = rng.choice(words)
        cut = text.find(word) + len(word)
        return text[:cut] + word[-1] * rng.randint(30, 300)

    def punctuation(rng: random.Random, text: str) -> str:
        mark = rng.choice(("…", "!", "?", ".", "。", "?!", "！"))
        cut = text.rfind(" ", 0, rng.randint(20, len(text))) if rng.random() < 0.5 else len(text)
        return text[: max(cut, 10)] + mark * rng.randint(20, 200)

    def stutter(rng: random.Random, text: str) -> str | None:
        words = [w for w in re.findall(r"[A-Za-z]+", text) if 2 <= len(w) <= 5]
        if not words:
            return None
        word = rng.choice(words).lower()
        cut = text.find(" ", rng.randint(10, max(11, len(text) // 2)))
        return text[: cut if cut > 0 else len(text)] + " " + word * rng.randint(15, 80)

    def cjk_stutter(rng: random.Random) -> Row | None:
        doc = rng.choice(cjk)
        text = line_excerpt(rng, doc, 3)
        char = rng.choice([c for c in "的是了の、はを이다는" if c in doc.text] or ["的"])
        return abnormal("repetition", "cjk_stutter", text + char * rng.randint(20, 120), doc)

    def html(rng: random.Random, text: str) -> str:
        tag = rng.choice(("<br>", "<br/>", "</p>", "&nbsp;", "<p></p>", "</div>"))
        return text + tag * rng.randint(15, 120)

    def line_repeat(rng: random.Random, text: str) -> str | None:
        sents = [s for s in sentences(text) if full_sentence(s)]
        if not sents:
            return None
        item = rng.choice(("- ", "* ", "| ", "")) + rng.choice(sents)
        return "\n".join([*sents[:1], *[item] * rng.randint(10, 40)])

    details = {
        "phrase_loop": derive("phrase_loop", phrase_loop),
        "sentence_loop": derive("sentence_loop", sentence_loop),
        "char_run": derive("char_run", char_run),
        "punctuation_run": derive("punctuation_run", punctuation),
        "token_stutter": derive("token_stutter", stutter),
        "cjk_stutter": cjk_stutter,
        "html_stutter": derive("html_stutter", html),
        "line_repeat": derive("line_repeat", line_repeat),
    }
    return by_detail("repetition", details, each)


def break_json(rng: random.Random, text: str, payload: dict, detail: str) -> str:
    """A JSON output broken the way models break it."""
    if detail == "truncated_in_string":
        spans = [m.span() for m in re.finditer(r'"(?:[^"\\]|\\.){12,}"', text)]
        start, end = rng.choice(spans)
        return text[: rng.randint(start + 4, end - 3)]
    if detail == "unclosed_braces":
        return text.rstrip().rstrip("}]").rstrip()
    if detail == "trailing_comma":
        return re.sub(r"(\s*)([}\]])\s*$", r",\1\2", text.rstrip(), count=1)
    if detail == "single_quotes":
        return repr(payload)  # a Python dict printed instead of serialised
    if detail == "fenced_broken":
        inner = rng.choice(("truncated_in_string", "unclosed_braces", "trailing_comma"))
        closing = rng.choice(("\n```", "\n```", ""))
        return "```json\n" + break_json(rng, text, payload, inner) + closing
    if detail == "unescaped_quote":
        summary = json.dumps(payload["summary"], ensure_ascii=False)
        words = payload["summary"].split(" ")
        i = rng.randrange(max(1, len(words) - 2))
        quoted = " ".join([*words[:i], f'"{words[i]}"', *words[i + 1 :]])
        return text.replace(summary, f'"{quoted}"', 1) if summary in text else text
    sentence_break = json.dumps(payload["summary"], ensure_ascii=False)
    if ". " not in sentence_break or sentence_break not in text:
        return text
    return text.replace(sentence_break, sentence_break.replace(". ", ".\n", 1), 1)


def is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def bad_json_rows(src: Sources, each: int) -> list[Row]:
    """Outputs that start as JSON but are truncated or malformed (a ```json fence around broken JSON included)."""
    kinds = (
        "truncated_in_string",
        "unclosed_braces",
        "trailing_comma",
        "single_quotes",
        "fenced_broken",
        "unescaped_quote",
        "raw_newline",
    )

    def corrupt(detail: str) -> Callable[[random.Random], Row | None]:
        def build(rng: random.Random) -> Row | None:
            doc = base_doc(rng, src)
            payload = summary_payload(rng, doc, rng.randint(1, 6))
            if not payload:
                return None
            text = json.dumps(payload, ensure_ascii=False, **rng.choice(({"indent": 2}, {})))
            broken = break_json(rng, text, payload, detail)
            return abnormal("bad_json", detail, broken, doc) if not is_json(broken) else None

        return build

    return by_detail("bad_json", {k: corrupt(k) for k in kinds}, each)


def deep_payload(rng: random.Random, doc: Doc, depth: int) -> dict:
    """Valid JSON nested exactly `depth` levels: runaway sections, nested details or nested lists."""
    sents = [s for p in prose_sentences(doc) for s in p] or [doc.title or "overview"]
    style = rng.choice(("children", "children", "details", "lists"))
    key = rng.choice(("details", "context", "subsection", "explanation"))
    node: object = [rng.choice(sents)] if style == "lists" else {"text": rng.choice(sents)}
    while value_depth(node) < depth - 1:
        if style == "children" and depth - 1 - value_depth(node) >= 2:
            node = {"title": rng.choice(sents)[:60].rstrip(), "children": [node]}
        elif style == "lists":
            node = [node]
        else:
            node = {key: node}
    payload = {"summary": rng.choice(sents), rng.choice(("sections", "structure", "analysis")): node}
    assert value_depth(payload) == depth, depth
    return payload


def deep_json_rows(src: Sources, each: int) -> list[Row]:
    """Valid JSON nested deeper than 10 levels (11-40), pretty and compact."""

    def build(style: str) -> Callable[[random.Random], Row | None]:
        def make(rng: random.Random) -> Row | None:
            doc = base_doc(rng, src)
            payload = deep_payload(rng, doc, rng.randint(11, 40))
            if not grounded(json.dumps(payload["summary"]), doc.text):
                return None
            return abnormal("deep_json", style, dump_json(rng, payload, style), doc)

        return make

    return by_detail("deep_json", {s: build(s) for s in ("pretty", "compact")}, each)


def shift_number(rng: random.Random, number: str) -> str:
    """A plausible wrong value for a number (a year moves a few years, others by 5-60% or a swapped digit)."""
    digits = re.sub(r"\D", "", number)
    if re.fullmatch(r"(1[89]|20)\d\d", number):
        return str(int(number) + rng.choice((-7, -3, -2, -1, 1, 2, 4, 9)))
    if "." in number or "," in number:
        i = rng.choice([k for k, c in enumerate(number) if c.isdigit()])
        return number[:i] + str((int(number[i]) + rng.randint(1, 8)) % 10) + number[i + 1 :]
    value = int(digits)
    changed = value + max(1, round(value * rng.uniform(0.05, 0.6))) * rng.choice((-1, 1))
    return str(max(changed, value + 1)) + number[len(digits) :]


def package_name(doc: Doc) -> str:
    """The package (or stdlib module) a passage documents."""
    prefix, rest = doc.source.split(":", 1)
    if prefix in ("readme", "licence"):
        return rest.split(" ")[0]
    return _family(doc) if prefix == "stdlib" else prefix


def fabricated_url(rng: random.Random, doc: Doc) -> str:
    """A plausible documentation URL for the passage's package that the context does not hold."""
    name = package_name(doc)
    if doc.source.startswith("stdlib:"):
        anchor = rng.choice(("examples", "notes", "module-contents", "exceptions"))
        return f"https://docs.python.org/3/library/{name}.html#{name}-{anchor}"
    return rng.choice(
        (
            f"https://{name.replace('_', '-')}.readthedocs.io/en/stable/{rng.choice(('faq', 'tuning', 'api'))}.html",
            f"https://github.com/{name}/{name}/issues/{rng.randint(1200, 48000)}",
            f"https://pypi.org/project/{name}/{rng.randint(1, 4)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}/",
        )
    )


def ungrounded_text(rng: random.Random, src: Sources, how: str) -> tuple[str, Doc, str] | None:
    """(output, passage, context) of a hallucinated summary, with the claims mostly absent from the context."""
    pool = base_pool(rng, src)
    doc = rng.choice(pool)
    text = free_text(rng, doc)
    if not text or len(text) > 1500:
        return None
    if how == "other_document":
        other = rng.choice(pool)
        return (text, doc, other.text) if _family(other) != _family(doc) else None
    if how == "changed_numbers":
        numbers = [c for c in claims(text) if re.fullmatch(r"[\d.,]+%?", c)]
        if len(numbers) < 2:
            return None
        changed = re.sub(
            r"\d+(?:[.,]\d+)?", lambda m: shift_number(rng, m.group()) if len(m.group()) > 1 else m.group(), text
        )
        return changed, doc, doc.text
    if how == "fabricated_quote":
        related = [d for d in pool if _family(d) == _family(doc) and d is not doc]
        quote = pick_sentences(rng, rng.choice(related or pool), 1)
        if not quote or len(quote[0]) < 25 or "”" in quote[0] or quote[0] in doc.text:
            return None
        frame = rng.choice(("As the documentation puts it, “{q}”", "The text adds that “{q}”", "It says: “{q}”"))
        return f"{text} {frame.format(q=quote[0])}", doc, doc.text
    if how == "fabricated_url":
        extra = rng.choice(("See {u} for details.", "More examples: {u}", "(source: {u})", "Full reference at {u}"))
        urls = " ".join(extra.format(u=fabricated_url(rng, doc)) for _ in range(rng.randint(1, 2)))
        return f"{text} {urls}", doc, doc.text
    sents = sentences(text)
    cited = " ".join(f"{s} [{rng.randint(1, 9)}]" for s in sents[: rng.randint(2, 4)])
    return (cited, doc, doc.text) if len(sents) >= 2 else None


def ungrounded_rows(src: Sources, each: int) -> list[Row]:
    """Hallucinations: another document's context, changed numbers, fabricated quotations, URLs or [n] citations;
    every output has 2+ checkable claims and at least half of them absent from its context (JSON ones too)."""

    def build(how: str, as_json: bool) -> Callable[[random.Random], Row | None]:
        def make(rng: random.Random) -> Row | None:
            found = ungrounded_text(rng, src, how)
            if not found:
                return None
            text, doc, context = found
            checked = json.dumps(text, ensure_ascii=False) if as_json else text
            found_claims, missing = claims(checked), absent_claims(checked, context)
            if len(found_claims) < 2 or len(missing) * 2 < len(found_claims):
                return None
            if as_json:
                payload = {"summary": text, **computed_metadata(rng, text, rng.randint(1, 4))}
                text = dump_json(rng, payload, rng.choice(("pretty", "compact")))
            detail = f"json_{how}" if as_json else how
            return Row(text, context, "ungrounded", detail, doc.source)

        return make

    plain = ("other_document", "changed_numbers", "fabricated_quote", "fabricated_url", "fabricated_citation")
    details = {how: build(how, False) for how in plain}
    details |= {f"json_{how}": build(how, True) for how in ("other_document", "changed_numbers", "fabricated_quote")}
    return by_detail("ungrounded", details, each)


REFUSALS = (
    "I apologize, but I am unable to fulfill this request.",
    "Unfortunately, I can't answer questions about this topic.",
    "I'm sorry, but I cannot help with that.",
    "As an AI language model, I don't have the ability to summarize this document.",
    "I'm not able to provide a summary of this content.",
    "Sorry, I can't assist with that request.",
    "I won't be able to help with this.",
    "That's not something I can help with.",
    "I'm afraid I can't do that.",
    "I cannot comply with this request.",
    "I'm unable to provide the information you're looking for.",
    "Regrettably, I am not able to complete this task.",
    "I must decline to summarize this text.",
    "As an AI, I am not able to access or interpret this material.",
    "I'm sorry, I don't feel comfortable summarizing this content.",
    "This request falls outside of what I'm able to help with.",
    "I am not in a position to provide that information.",
    "My apologies, but I can't provide a response to this.",
    "I'm sorry, but that request goes against my guidelines.",
    "Unfortunately, I'm unable to process this request at this time.",
    "I'm sorry, but I can't share details about this topic.",
    "I'd rather not answer that.",
    "Sorry, but I'm not allowed to help with this.",
    "I cannot provide assistance with this request.",
    "I'm afraid that's beyond what I can do.",
    "I'm really sorry, but I can't continue with this.",
    "Unfortunately, as an AI assistant, I am unable to summarize the provided text.",
    "I'm not going to be able to do that.",
    "Apologies, I can't help you with that one.",
    "I can’t help with that.",
    "Lo siento, pero no puedo ayudar con eso.",
    "Es tut mir leid, aber dabei kann ich nicht helfen.",
    "申し訳ありませんが、このご依頼にはお応えできません。",
)
REFUSAL_FRAMES = (
    "Thank you for sharing the document. {r}",
    "{r} You might find the answer in the official documentation.",
    "{r} If you have another question, I'd be happy to help.",
    "Hmm. {r} Is there anything else I can do for you?",
    "I have read the text you provided. {r}",
    "{r}\n\nPlease consult the original source for details.",
)


def refusal_rows(src: Sources, each: int) -> list[Row]:
    """Refusals where a summary was due: alone, framed by other sentences, or as a JSON summary."""

    def make(detail: str, render: Callable[[random.Random, str], str]) -> Callable[[random.Random], Row]:
        return lambda rng: abnormal("refusal", detail, render(rng, rng.choice(REFUSALS)), base_doc(rng, src))

    def as_json(rng: random.Random, refusal: str) -> str:
        extra = rng.choice(({}, {"confidence": 0.0}, {"word_count": 0, "num_sources": rng.randint(1, 4)}))
        return dump_json(rng, {"summary": refusal, **extra}, rng.choice(("pretty", "compact")))

    details = {
        "alone": make("alone", lambda rng, r: r),
        "framed": make("framed", lambda rng, r: rng.choice(REFUSAL_FRAMES).format(r=r)),
        "json": make("json", as_json),
    }
    return by_detail("refusal", details, each)


FIRST_NAMES = (
    "Maria",
    "Jan",
    "Aiko",
    "Olusegun",
    "Sofia",
    "Mehmet",
    "Lucas",
    "Priya",
    "Emma",
    "Chen",
    "Fatima",
    "Noah",
)
LAST_NAMES = ("García", "Kowalski", "Tanaka", "Adeyemi", "Rossi", "Yılmaz", "Martin", "Sharma", "Schmidt", "Wang")
MAIL_DOMAINS = ("gmail.com", "outlook.com", "web.de", "yahoo.co.uk", "orange.fr", "icloud.com", "acme-corp.com")


def person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


def email_address(rng: random.Random) -> str:
    first, last = person(rng)
    ascii_last = unicodedata.normalize("NFKD", last).encode("ascii", "ignore").decode().lower()
    local = rng.choice(
        (f"{first.lower()}.{ascii_last}", f"{first[0].lower()}{ascii_last}", f"{ascii_last}{rng.randint(7, 99)}")
    )
    return f"{local}@{rng.choice(MAIL_DOMAINS)}"


def phone_number(rng: random.Random) -> str:
    """International (+CC), North American and European national formats."""
    d = lambda n: "".join(str(rng.randint(0, 9)) for _ in range(n))  # noqa: E731
    area = f"{rng.randint(2, 9)}{d(2)}"
    return rng.choice(
        (
            f"+44 20 7946 {d(4)}",
            f"+49 30 {d(8)}",
            f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}",
            f"+1 {area}-{rng.randint(200, 999)}-{d(4)}",
            f"+81 3-{d(4)}-{d(4)}",
            f"+34 91{d(1)} {d(3)} {d(3)}",
            f"+91 98{d(3)} {d(5)}",
            f"({area}) {rng.randint(200, 999)}-{d(4)}",
            f"{area}-{rng.randint(200, 999)}-{d(4)}",
            f"{area}.{rng.randint(200, 999)}.{d(4)}",
            f"030 {d(8)}",
            f"0151 {d(8)}",
            f"06 {d(2)} {d(2)} {d(2)} {d(2)}",
            f"020 7946 {d(4)}",
            f"07700 {d(6)}",
            f"06-{d(8)}",
            f"02 {d(4)} {d(4)}",
        )
    )


def card_number(rng: random.Random) -> str:
    """A Luhn-valid number with a real IIN prefix (Visa, Mastercard, Amex, Discover), spaced, dashed or plain."""
    prefix, length = rng.choice(
        (("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16), ("65", 16))
    )
    body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    digits = next(body + str(c) for c in range(10) if luhn_ok(body + str(c)))
    groups = [digits[:4], digits[4:10], digits[10:]] if length == 15 else [digits[i : i + 4] for i in range(0, 16, 4)]
    return rng.choice((" ", "-", "")).join(groups)


IBAN_FORMATS = {"DE": "8n10n", "GB": "4a6n8n", "FR": "5n5n11n2n", "ES": "4n4n2n10n", "IT": "1a5n5n12n", "NL": "4a10n"}


def iban(rng: random.Random) -> str:
    """An IBAN with correct mod-97 check digits, spaced in fours or plain."""
    country = rng.choice(sorted(IBAN_FORMATS))
    bban = ""
    for count, kind in re.findall(r"(\d+)([an])", IBAN_FORMATS[country]):
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if kind == "a" else "0123456789"
        bban += "".join(rng.choice(alphabet) for _ in range(int(count)))
    check = 98 - iban_remainder(f"{country}00{bban}")
    text = f"{country}{check:02d}{bban}"
    assert iban_remainder(text) == 1
    return rng.choice((text, " ".join(text[i : i + 4] for i in range(0, len(text), 4))))


def us_ssn(rng: random.Random) -> str:
    """AAA-GG-SSSS in valid ranges (area 001-899 but 666, group 01-99, serial 0001-9999)."""
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


PII_SENTENCES = {
    "email": ("Questions can be sent to {v}.", "Reported by {n} <{v}>.", "Contact: {n}, {v}", "cc {v}"),
    "phone": ("For support, call {n} on {v}.", "Phone: {v}", "{n} can be reached at {v}.", "Call back {v} after 5pm."),
    "card": ("The customer paid with card {v}.", "Card on file: {v}", "{n} used the card {v} for the order."),
    "iban": ("Refunds go to {n}, IBAN {v}.", "Account: {v} ({n})", "Please transfer the fee to {v}."),
    "us_ssn": ("Applicant SSN: {v}", "{n}'s social security number is {v}.", "SSN {v} was verified for {n}."),
}
PII_VALUES = {"email": email_address, "phone": phone_number, "card": card_number, "iban": iban, "us_ssn": us_ssn}


def pii_rows(src: Sources, each: int) -> list[Row]:
    """Normal outputs leaking personal data that their context held: e-mails, phones, cards, IBANs, SSNs."""

    def make(kind: str) -> Callable[[random.Random], Row | None]:
        def build(rng: random.Random) -> Row | None:
            doc = base_doc(rng, src)
            first, last = person(rng)
            line = rng.choice(PII_SENTENCES[kind]).format(v=PII_VALUES[kind](rng), n=f"{first} {last}")
            context = f"{doc.text}\n\n{line}"
            if rng.random() < 0.3:
                payload = summary_payload(rng, doc, rng.randint(1, 3))
                if not payload:
                    return None
                payload = (
                    {**payload, "summary": f"{payload['summary']} {line}"}
                    if rng.random() < 0.5
                    else {**payload, "contact": line}
                )
                output = dump_json(rng, payload, rng.choice(("pretty", "compact")))
            else:
                text = free_text(rng, doc)
                if not text:
                    return None
                output = rng.choice((f"{text} {line}", f"{line}\n\n{text}"))
            return Row(output, context, "pii", kind, f"{doc.source} + invented {kind}")

        return build

    return by_detail("pii", {k: make(k) for k in PII_VALUES}, each)


# -- the corpus ------------------------------------------------------------------------------------------------

NORMAL_COUNTS = {
    "excerpt": 600,
    "markdown_list": 130,
    "json_pretty": 340,
    "json_compact": 340,
    "non_ascii": 210,
    "tabs": 60,
    "quote_variant": 150,
    "number_format": 120,
    "citations": 120,
    "refusal_words": 120,
    "repeated_structure": 210,
    "pii_lookalike": 160,
    "no_context": 90,
}
# rows per sub-kind of each abnormal kind
ABNORMAL_EACH = {
    "missing": 15,
    "bad_characters": 8,
    "special_token": 8,
    "repetition": 8,
    "bad_json": 8,
    "deep_json": 24,
    "ungrounded": 8,
    "refusal": 18,
    "pii": 10,
}


def row_problem(row: Row) -> str | None:
    """Why a row does not fit its label, or None: the corpus is checked against its own definitions."""
    out, context = row.output_text, row.retrieved_context
    if row.kind == "missing":
        return None if out is None or not out.strip() else "missing output has text"
    assert out is not None
    if row.kind != "pii" and (has_personal_data(out) or has_personal_data(context or "")):
        return "personal data outside a pii row"
    parsed = json.loads(out) if row.kind in ("normal", "deep_json") and out.startswith("{") else None
    summary = json.dumps(parsed["summary"], ensure_ascii=False) if isinstance(parsed, dict) else out
    problems = {
        "normal": not is_clean(out)
        or (parsed is not None and value_depth(parsed) > 6)
        or (row.detail not in ("quote_variant", "number_format", "no_context") and not grounded(summary, context)),
        "bad_characters": not (BAD_CHARS.search(out) or misread_utf8(out)),
        "special_token": row.detail not in out,
        "bad_json": is_json(out) or not out.startswith(("{", "```json")),
        "deep_json": not 11 <= value_depth(parsed) <= 40,
        "pii": not has_personal_data(out) or not has_personal_data(context or ""),
    }
    if row.kind == "ungrounded":
        checked = json.dumps(json.loads(out)["summary"], ensure_ascii=False) if row.detail.startswith("json") else out
        found = claims(checked)
        return None if len(found) >= 2 and 2 * len(absent_claims(checked, context)) >= len(found) else "grounded"
    return f"not {row.kind}" if problems.get(row.kind) else None


def build_corpus() -> pl.DataFrame:
    """The labelled corpus: normal outputs with their hard negatives, and realistic failures of each kind."""
    src = load_sources()
    normal_builders: dict[str, Callable[[Sources, int], list[Row]]] = {
        "excerpt": excerpt_rows,
        "markdown_list": markdown_list_rows,
        "json_pretty": lambda s, n: json_rows(s, n, "pretty"),
        "json_compact": lambda s, n: json_rows(s, n, "compact"),
        "non_ascii": non_ascii_rows,
        "tabs": tab_rows,
        "quote_variant": quote_variant_rows,
        "number_format": number_format_rows,
        "citations": citation_rows,
        "refusal_words": refusal_word_rows,
        "repeated_structure": repeated_structure_rows,
        "pii_lookalike": pii_lookalike_rows,
        "no_context": no_context_rows,
    }
    abnormal_builders: dict[str, Callable[[Sources, int], list[Row]]] = {
        "missing": missing_rows,
        "bad_characters": bad_character_rows,
        "special_token": special_token_rows,
        "repetition": repetition_rows,
        "bad_json": bad_json_rows,
        "deep_json": deep_json_rows,
        "ungrounded": ungrounded_rows,
        "refusal": refusal_rows,
        "pii": pii_rows,
    }
    rows = [r for name, n in NORMAL_COUNTS.items() for r in normal_builders[name](src, n)]
    rows += [r for name, n in ABNORMAL_EACH.items() for r in abnormal_builders[name](src, n)]
    bad = [(r.kind, r.detail, problem) for r in rows if (problem := row_problem(r))]
    if bad:
        raise AssertionError(f"{len(bad)} rows do not fit their labels, e.g. {bad[:5]}")
    random.Random(SEED).shuffle(rows)
    return pl.DataFrame(
        {
            "prediction_id": [f"gc-{i + 1:06d}" for i in range(len(rows))],
            "output_text": [r.output_text for r in rows],
            "retrieved_context": [r.retrieved_context for r in rows],
            "kind": [r.kind for r in rows],
            "detail": [r.detail for r in rows],
            "source": [r.source for r in rows],
        },
        schema=SCHEMA,
    )


def main() -> None:
    """Build the corpus, write the fixture and print the counts by kind and detail."""
    frame = build_corpus()
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(FIXTURE, compression="zstd", compression_level=19)
    print(f"{FIXTURE}: {frame.height} rows, {FIXTURE.stat().st_size / 1e6:.2f} MB")
    with pl.Config(tbl_rows=100):
        print(frame.group_by("kind").len().sort("kind"))
        print(frame.group_by("kind", "detail").len().sort("kind", "detail"))


if __name__ == "__main__":
    main()
