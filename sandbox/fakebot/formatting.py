"""Telegram's server-side text processing: HTML / MarkdownV2 / Markdown parsing into plain
text + entities (with Telegram's ``can't parse entities`` errors), trimming, and the
auto-detection of commands, mentions, hashtags, URLs and e-mails (:func:`format_text`)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.fakebot.protocol import JSON


class EntityParseError(ValueError):
    """Raised for markup Telegram refuses (``Bad Request: can't parse entities: ...``)."""


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


_ENTITY_DISPLAY_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


class _Out:
    """Accumulates plain text and tracks the current UTF-16 position."""

    __slots__ = ("parts", "pos")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0

    def add(self, chunk: str) -> None:
        if chunk:
            self.parts.append(chunk)
            self.pos += utf16_len(chunk)

    def text(self) -> str:
        return "".join(self.parts)


@dataclass
class _Open:
    kind: str
    start: int  # UTF-16 offset in the output
    byte_offset: int  # byte offset of the opening markup in the source
    tag: str = ""
    extra: JSON = field(default_factory=dict)
    part_index: int = 0


def _make_entity(kind: str, start: int, end: int, extra: Mapping[str, Any]) -> JSON | None:
    if end <= start:
        return None
    entity: JSON = {"type": kind, "offset": start, "length": end - start}
    entity.update(extra)
    return entity


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _normalize_url(url: str) -> str | None:
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        return None
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", url)
    if scheme:
        if scheme.group(1).lower() in {"http", "https", "tg", "ton", "ftp", "mailto", "tonsite"}:
            return url
        return None
    if "." in url:
        return f"http://{url}"
    return None


_HTML_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


_HTML_ENTITY_RE = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")


_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


_HTML_START_RE = re.compile(
    r"<([A-Za-z][A-Za-z0-9-]*)"
    r"((?:\s+[A-Za-z_:-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?)*)\s*>"
)


_HTML_ATTR_RE = re.compile(r"([A-Za-z_:-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")


_HTML_END_RE = re.compile(r"</([A-Za-z][A-Za-z0-9-]*)\s*>")


def _decode_html_entity(match: re.Match[str]) -> str | None:
    decimal, hexadecimal, named = match.groups()
    if named:
        return _HTML_NAMED[named]
    code = int(decimal) if decimal else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def parse_html(source: str) -> tuple[str, list[JSON]]:
    """Parse Telegram's HTML dialect into ``(plain_text, entities)``."""
    out = _Out()
    stack: list[_Open] = []
    entities: list[JSON] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "&":
            match = _HTML_ENTITY_RE.match(source, i)
            decoded = _decode_html_entity(match) if match else None
            if match and decoded is not None:
                out.add(decoded)
                i = match.end()
            else:
                out.add("&")
                i += 1
            continue
        if ch != "<":
            j = i + 1
            while j < n and source[j] not in "<&":
                j += 1
            out.add(source[i:j])
            i = j
            continue
        offset = _byte_offset(source, i)
        if source.startswith("</", i):
            end = _HTML_END_RE.match(source, i)
            if end is None:
                raise EntityParseError(f"Unclosed end tag at byte offset {offset}")
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {offset}")
            name = end.group(1).lower()
            top = stack.pop()
            if name != top.tag:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {offset}, expected "</{top.tag}>", '
                    f'found "</{name}>"'
                )
            language = top.extra.pop("language", None)
            if (
                top.kind == "code"
                and language
                and stack
                and stack[-1].kind == "pre"
                and stack[-1].start == top.start
            ):
                stack[-1].extra["language"] = language  # <pre><code class="language-x">
            elif top.kind != "none":
                closing: JSON = dict(top.extra)
                if top.kind == "pre" and language:
                    closing["language"] = language
                entity = _make_entity(top.kind, top.start, out.pos, closing)
                if entity:
                    entities.append(entity)
            i = end.end()
            continue
        start = _HTML_START_RE.match(source, i)
        if start is None:
            bad = re.match(r"<([A-Za-z0-9-]*)", source[i:])
            name = bad.group(1) if bad else ""
            if name.lower() in _HTML_TAG_TYPES:
                raise EntityParseError(f"Unclosed start tag at byte offset {offset}")
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
        name = start.group(1).lower()
        kind = _HTML_TAG_TYPES.get(name)
        if kind is None:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
        attrs = {
            m.group(1).lower(): html.unescape(m.group(2) or m.group(3) or m.group(4) or "")
            for m in _HTML_ATTR_RE.finditer(start.group(2))
        }
        extra: JSON = {}
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {offset}'
            )
        if name == "a":
            url = _normalize_url(attrs.get("href", ""))
            if url is None:
                kind = "none"
            else:
                extra["url"] = url
        elif name in ("code", "pre"):
            css = attrs.get("class", "")
            if css.startswith("language-") and len(css) > 9:
                extra["language"] = css[9:]
        elif name == "blockquote" and "expandable" in attrs:
            kind = "expandable_blockquote"
        elif name == "tg-emoji":
            emoji_id = attrs.get("emoji-id", "")
            if not emoji_id.isdigit():
                raise EntityParseError(
                    "Custom emoji entity must contain a valid custom emoji identifier"
                )
            extra["custom_emoji_id"] = emoji_id
        stack.append(_Open(kind, out.pos, offset, name, extra))
        i = start.end()
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    return out.text(), entities


_MDV2_SPECIAL = frozenset("_*[]()~`>#+-=|{}.!")


def parse_markdown_v2(source: str) -> tuple[str, list[JSON]]:
    """Parse Telegram's MarkdownV2 into ``(plain_text, entities)`` (tdlib's rules)."""
    out = _Out()
    entities: list[JSON] = []
    stack: list[_Open] = []
    quote: _Open | None = None
    i, n = 0, len(source)

    def close(opened: _Open, extra: Mapping[str, Any] | None = None) -> None:
        entity = _make_entity(opened.kind, opened.start, out.pos, {**opened.extra, **(extra or {})})
        if entity:
            entities.append(entity)

    def display(opened: _Open) -> str:
        if opened.kind == "pre" and opened.extra.get("language"):
            return "PreCode"
        return _ENTITY_DISPLAY_NAMES.get(opened.kind, opened.kind)

    def close_quote(expandable: bool) -> None:
        nonlocal quote
        assert quote is not None
        inside = [o for o in stack if o.byte_offset >= quote.byte_offset]
        if inside:
            first = inside[0]
            raise EntityParseError(
                f"Can't find end of {display(first)} entity at byte offset {first.byte_offset}"
            )
        quote.kind = "expandable_blockquote" if expandable else "blockquote"
        close(quote)
        quote = None

    def toggle(kind: str, index: int) -> None:
        if stack and stack[-1].kind == kind:
            close(stack.pop())
        else:
            stack.append(_Open(kind, out.pos, _byte_offset(source, index)))

    while i < n:
        ch = source[i]
        top = stack[-1].kind if stack else None
        if top in ("code", "pre"):
            if ch == "\\" and i + 1 < n and 0 < ord(source[i + 1]) <= 126:
                out.add(source[i + 1])
                i += 2
            elif top == "pre" and source.startswith("```", i):
                close(stack.pop())
                i += 3
            elif top == "code" and ch == "`":
                close(stack.pop())
                i += 1
            else:
                out.add(ch)
                i += 1
            continue
        if (i == 0 or source[i - 1] in "\r\n") and (ch == ">" or source.startswith("**>", i)):
            width = 1 if ch == ">" else 3
            if quote is not None and width == 3:
                close_quote(expandable=False)
            if quote is None:
                quote = _Open("blockquote", out.pos, _byte_offset(source, i))
            i += width
            continue
        if ch == "\\":
            if i + 1 < n and 0 < ord(source[i + 1]) <= 126:
                out.add(source[i + 1])
                i += 2
            else:
                out.add(ch)
                i += 1
            continue
        if ch == "\n":
            out.add(ch)
            i += 1
            if quote is not None and not (
                i < n and (source[i] == ">" or source.startswith("**>", i))
            ):
                close_quote(expandable=False)
            continue
        if ch not in _MDV2_SPECIAL:
            j = i + 1
            while j < n and source[j] not in _MDV2_SPECIAL and source[j] not in "\\\n":
                j += 1
            out.add(source[i:j])
            i = j
            continue
        if ch == "|" and source.startswith("||", i):
            at_line_end = i + 2 >= n or source[i + 2] in "\r\n"
            spoiler_in_quote = (
                quote is not None
                and bool(stack)
                and stack[-1].kind == "spoiler"
                and stack[-1].byte_offset >= quote.byte_offset
            )
            if quote is not None and at_line_end and not spoiler_in_quote:
                i += 2
                if i < n and source[i] == "\r":
                    out.add("\r")
                    i += 1
                if i < n and source[i] == "\n":
                    out.add("\n")
                    i += 1
                close_quote(expandable=True)
                continue
            toggle("spoiler", i)
            i += 2
        elif ch == "_":
            if source.startswith("__", i):
                toggle("underline", i)
                i += 2
            else:
                toggle("italic", i)
                i += 1
        elif ch == "*":
            toggle("bold", i)
            i += 1
        elif ch == "~":
            toggle("strikethrough", i)
            i += 1
        elif ch == "[":
            stack.append(
                _Open("text_link", out.pos, _byte_offset(source, i), part_index=len(out.parts))
            )
            i += 1
        elif ch == "!" and source.startswith("![", i):
            stack.append(_Open("custom_emoji", out.pos, _byte_offset(source, i)))
            i += 2
        elif ch == "]" and top in ("text_link", "custom_emoji"):
            opened = stack.pop()
            i += 1
            url: str | None = None
            if i < n and source[i] == "(":
                j = i + 1
                chars: list[str] = []
                while j < n and source[j] != ")":
                    if source[j] == "\\" and j + 1 < n and 0 < ord(source[j + 1]) <= 126:
                        chars.append(source[j + 1])
                        j += 2
                    else:
                        chars.append(source[j])
                        j += 1
                if j >= n:
                    what = "a custom emoji URL" if opened.kind == "custom_emoji" else "a URL"
                    raise EntityParseError(
                        f"Can't find end of {what} at byte offset {_byte_offset(source, i + 1)}"
                    )
                url = "".join(chars)
                i = j + 1
            if opened.kind == "custom_emoji":
                if url is None:
                    raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
                emoji = re.match(r"(?i)tg://emoji/?\?(?:[^#]*&)?id=(\d+)", url)
                if emoji is None:
                    raise EntityParseError("Custom emoji URL must have an emoji identifier")
                close(opened, {"custom_emoji_id": emoji.group(1)})
            else:
                target = url if url is not None else "".join(out.parts[opened.part_index :])
                normalized = _normalize_url(target)
                if normalized:
                    close(opened, {"url": normalized})
        elif ch == "`":
            if source.startswith("```", i):
                j = k = i + 3
                while k < n and not source[k].isspace() and source[k] != "`":
                    k += 1
                opened = _Open("pre", out.pos, _byte_offset(source, i))
                if k > j and k < n and source[k].isspace():
                    opened.extra["language"] = source[j:k]
                    j = k
                    if source.startswith("\r\n", j) or source.startswith("\n\r", j):
                        j += 2
                    elif source[j] in "\r\n":
                        j += 1
                elif j < n and source[j] == "\n":
                    j += 1
                stack.append(opened)
                i = j
            else:
                stack.append(_Open("code", out.pos, _byte_offset(source, i)))
                i += 1
        else:
            raise EntityParseError(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
    if stack:
        last = stack[-1]
        raise EntityParseError(
            f"Can't find end of {display(last)} entity at byte offset {last.byte_offset}"
        )
    if quote is not None:
        close_quote(expandable=False)
    return out.text(), entities


def parse_markdown(source: str) -> tuple[str, list[JSON]]:
    """Parse Telegram's legacy ``Markdown`` parse mode into ``(plain_text, entities)``."""
    out = _Out()
    entities: list[JSON] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "\\" and i + 1 < n and source[i + 1] in "_*`[":
            out.add(source[i + 1])
            i += 2
            continue
        if ch not in "_*`[":
            out.add(ch)
            i += 1
            continue
        offset = _byte_offset(source, i)
        unclosed = EntityParseError(
            f"Can't find end of the entity starting at byte offset {offset}"
        )
        if ch == "[":
            close_bracket = source.find("]", i + 1)
            if close_bracket < 0:
                raise unclosed
            if not source.startswith("(", close_bracket + 1):
                out.add(ch)
                i += 1
                continue
            close_paren = source.find(")", close_bracket + 2)
            if close_paren < 0:
                raise unclosed
            start = out.pos
            out.add(source[i + 1 : close_bracket])
            url = _normalize_url(source[close_bracket + 2 : close_paren])
            entity = _make_entity("text_link", start, out.pos, {"url": url}) if url else None
            if entity:
                entities.append(entity)
            i = close_paren + 1
            continue
        if source.startswith("```", i):
            end = source.find("```", i + 3)
            if end < 0:
                raise unclosed
            content = source[i + 3 : end]
            extra: JSON = {}
            first_line, newline, rest = content.partition("\n")
            if newline and first_line and not any(c.isspace() for c in first_line):
                extra["language"] = first_line
                content = rest
            start = out.pos
            out.add(content)
            entity = _make_entity("pre", start, out.pos, extra)
            if entity:
                entities.append(entity)
            i = end + 3
            continue
        end = source.find(ch, i + 1)
        if end < 0:
            raise unclosed
        start = out.pos
        out.add(source[i + 1 : end])
        entity = _make_entity({"_": "italic", "*": "bold", "`": "code"}[ch], start, out.pos, {})
        if entity:
            entities.append(entity)
        i = end + 1
    return out.text(), entities


_AUTO_ENTITY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "email",
        re.compile(
            r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
        ),
    ),
    ("url", re.compile(r"(?i)(?<![\w/])(?:https?|tg)://[^\s<>\"]+")),
    ("bot_command", re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{4,32}(?![\w@])")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d]\w*")),
)


# Auto-detected entities never overlap these.
_NON_FORMATTING_ENTITIES = frozenset(
    {
        "code",
        "pre",
        "text_link",
        "text_mention",
        "url",
        "email",
        "mention",
        "bot_command",
        "hashtag",
        "cashtag",
        "phone_number",
        "custom_emoji",
    }
)


def detect_entities(text: str, existing: Iterable[Mapping[str, Any]] = ()) -> list[JSON]:
    """Entities Telegram detects by itself: bot commands, mentions, hashtags, URLs, e-mails."""
    taken: list[tuple[int, int]] = [
        (int(e["offset"]), int(e["offset"]) + int(e["length"]))
        for e in existing
        if e.get("type") in _NON_FORMATTING_ENTITIES
    ]
    found: list[JSON] = []
    for kind, pattern in _AUTO_ENTITY_PATTERNS:
        for match in pattern.finditer(text):
            value = match.group(0)
            if kind == "url":
                value = value.rstrip(".,;:!?'")
                if value.endswith(")") and "(" not in value:
                    value = value[:-1]
            start = utf16_len(text[: match.start()])
            end = start + utf16_len(value)
            if end <= start or any(start < b and a < end for a, b in taken):
                continue
            taken.append((start, end))
            found.append({"type": kind, "offset": start, "length": end - start})
    return found


def _trim(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    stripped = text.strip(" \t\r\n")
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip(" \t\r\n"))])
    total = utf16_len(stripped)
    result: list[JSON] = []
    for entity in entities:
        start = max(int(entity["offset"]) - shift, 0)
        end = min(int(entity["offset"]) + int(entity["length"]) - shift, total)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


def format_text(
    text: str,
    parse_mode: str | None = None,
    entities: Iterable[Mapping[str, Any]] | None = None,
) -> tuple[str, list[JSON]]:
    """Turn text as a bot sends it into ``(text, entities)`` as the user receives it.

    Explicit ``entities`` win over ``parse_mode`` (as in Telegram).  Leading and trailing
    whitespace is trimmed and commands, mentions, hashtags, URLs and e-mails are detected.
    Raises :class:`EntityParseError` for markup Telegram refuses, ``ValueError`` for an
    unknown parse mode.
    """
    if entities is not None:
        plain, parsed = text, [dict(e) for e in entities]
    elif parse_mode:
        mode = parse_mode.lower()
        if mode == "html":
            plain, parsed = parse_html(text)
        elif mode == "markdownv2":
            plain, parsed = parse_markdown_v2(text)
        elif mode == "markdown":
            plain, parsed = parse_markdown(text)
        else:
            raise ValueError(f"unsupported parse_mode {parse_mode!r}")
    else:
        plain, parsed = text, []
    plain, parsed = _trim(plain, parsed)
    parsed.extend(detect_entities(plain, parsed))
    parsed.sort(key=lambda e: (int(e["offset"]), -int(e["length"])))
    return plain, parsed
