import CrawlKit
import Foundation
import HTTP
import JSONKit
import TestSupport
import Testing
import WebDriver

/// Selectors a user writes: the job files', the README's, and Selectors Level 4's grammar case by
/// case. Chrome accepts every one (`CSSSelectorChromeTests` proves the table against it).
let validSelectors: [String] = [
    // jobs/*.json and the README
    "h1", ".price", ".stock", "li.tag", "a[rel=next]", "a", "main",
    // type, universal, id, class, escapes
    "*", "div", "DIV", "my-element", "svg", "div.a.b", "#main", "#main.x", "div#main", ".a-b_c", "._x", ".-x",
    ".--x", "#-x", ".\\31 23", "#\\31 23", ".a\\:b", ".a\\.b", ".😀", ".caf\\E9", ".föo", ".a\\ b", "#x\\@y",
    "h1, h2", "a,b", "h1 , h2 ,h3", "/* c */ div", "div /* c */ p", "  div  ",
    // combinators
    "div p", "div > p", "div>p", "div + p", "div+p", "div ~ p", "div~p", "div   p", "div\n p", "div\t>\tp",
    "ul li a", "*+*", "body > * > p",
    // attribute selectors
    "[href]", "[ href ]", "[href=x]", "[href=\"x\"]", "[href='x']", "[href = \"x\"]", "[class~=x]",
    "[lang|=en]", "[href^=\"https:\"]", "[href$=\".pdf\"]", "[href*=example]", "[type=\"a\" i]",
    "[type=a i]", "[type=\"a\"i]", "[type=\"a\" I]", "[data-x]", "[data-id=\"123\"]", "[title=\"\"]",
    "[href=\"mailto:x@y\"]", "[a=\"]\"]", "[a=\"\\\"\"]", "[a='it\\'s']", "[*|href]", "[|href]", "a[href][title]",
    "[data-state=open]", "[aria-hidden=\"true\"]", "input[type=checkbox]", "[a=-x]", "[a=_x]",
    // namespaces querySelector understands
    "*|*", "*|div", "|div", "|*",
    // pseudo-classes
    ":hover", ":first-child", ":last-child", ":only-child", ":first-of-type", ":last-of-type", ":only-of-type",
    ":checked", ":disabled", ":enabled", ":empty", ":root", ":target", ":focus", ":focus-visible",
    ":focus-within", ":any-link", ":link", ":visited", ":placeholder-shown", ":read-only", ":read-write",
    ":required", ":optional", ":valid", ":invalid", ":in-range", ":out-of-range", ":indeterminate",
    ":default", ":defined", ":scope", ":HOVER", ":First-Child", ":modal", ":fullscreen", ":popover-open",
    ":user-invalid", ":user-valid", ":autofill", ":-webkit-autofill", ":active", ":host", ":open",
    // functional pseudo-classes
    ":not(.a)", ":not(.a, .b)", ":not(div > p)", ":not(:first-child)", ":not( .a )", ":is(h1, h2)",
    ":where(.a .b)", ":is(ul, ol) > li", ":has(> img)", ":has(+ p)", ":has(~ p)", ":has(img, video)",
    ":has(.a .b)", ":not(:has(a))", ":is(:not(.a), .b)", ":NOT(.a)", ":where()", ":is()",
    ":nth-child(1)", ":nth-child(odd)", ":nth-child(even)", ":nth-child(2n)", ":nth-child(2n+1)",
    ":nth-child(2n + 1)", ":nth-child( 2n+1 )", ":nth-child(-n+3)", ":nth-child(n)", ":nth-child(+n)",
    ":nth-child(-2n-1)", ":nth-child(2n- 1)", ":nth-child(3n -2)", ":nth-child(+5)", ":nth-child(-1)",
    ":nth-child(0n+0)", ":nth-child(2n+1 of .a)", ":nth-child(odd of li.x, li.y)", ":nth-last-child(2)",
    ":nth-of-type(2n)", ":nth-last-of-type(odd)", ":nth-child(ODD)", ":nth-child(2N+1)", ":nth-child(-n + 6)",
    ":lang(en)", ":dir(rtl)", ":dir(ltr)", ":host(.dark)",
    ":host-context(body.dark)", ":state(checked)",
    // pseudo-elements
    "::before", "::after", ":before", ":after", ":first-line", ":first-letter", "::first-line",
    "::first-letter", "::marker", "::placeholder", "::selection", "::backdrop", "::file-selector-button",
    "::-webkit-scrollbar", "::-webkit-input-placeholder", "::part(label)", "::part(a b)", "::slotted(p)",
    "::slotted(*)", "p::before", "li::marker", "::highlight(found)", "::view-transition",
    "::view-transition-group(*)", "::view-transition-old(root)",
    // the nesting selector (querySelector reads it as :scope)
    "&", "& > p", "&.a",
    // as users write them
    "a[href]:not([href^=\"#\"])", "ul > li:nth-child(2n+1) a[href$=\".pdf\" i]:hover",
    "body > main#content .card:is(.featured, .new) h2 + p", "table tr:nth-child(even) td:first-child",
    "input[type=\"checkbox\"]:checked + label", "div.product:has(> .price) .title",
    "article:not(:last-child)::after", "meta[property=\"og:title\"]", "link[rel=canonical]",
    "script[type=\"application/ld+json\"]", "[itemprop=price]", "#product-123 .price--sale",
    "div[class*=\"col-\"] > span:first-of-type", ".grid > .item:nth-child(3n+1):not(.hidden)",
    "section h2:where(.title, .heading) ~ p", "nav a[aria-current=page]",
    // forgiving lists drop what they cannot read (Selectors 4, §4.2)
    ":is(:-moz-focusring, :focus-visible)", ":is(a, :foo(x), b)", ":where(> a)", ":is(a,,b)",
    ":has(:is(:has(a)))", ":not(:is(::before))",
    // rarer but valid
    "::scroll-button(*)", "::picker(select)", ":nth-child(2 of ::before)", "\\64 iv", "d\\iv", "--a", "-a",
    "#--", ".a&.b", "div&", "&&", "#a#b", "*.a", "::BEFORE", ":BEFORE", "::Selection", "a /**/b", "a/**/.b",
    ":-webkit-any(a, b)", ":state(x)", ":active-view-transition-type(a)", ":dir(foo)", ":current",
    "::view-transition-group(*.a)", ":host(:hover)", "a::part(x):hover", ":root:has(dialog[open])",
    "::part(x)::before", "::before::marker", ":nth-child(-n- 3)", ":nth-child(1 of a, b)", "[a|=b]",
    "[*|a=b]", "[|a=b i]",
    // the end of input closes what is open (CSS Syntax 3, §5.4.8), in browsers too
    "div[href", "[href=\"x]", "[href=\"x", ":not(.a", "a:is(", ":nth-child(2n+1",
]

/// Valid in Selectors Level 4 and in other browsers, though not in the Chromium of this machine:
/// accepted, since the job may name another browser or run a newer image.
let specOnlySelectors: [String] = [
    "[type=\"a\" s]", ":playing", ":paused", ":lang(\"en\")", ":lang(en, fr)", "::before:hover",
]

/// Malformed selectors with a piece of the reason and the character it names.
let invalidSelectors: [(selector: String, reason: String, at: Int)] = [
    ("div[", "an attribute name must follow \"[\"", 4),
    ("div[ ", "an attribute name must follow \"[\"", 4),
    ("", "a selector is missing", 1),
    ("   ", "a selector is missing", 4),
    ("div,", "a selector is missing after \",\"", 5),
    (",div", "a selector is missing before \",\"", 1),
    ("a,,b", "a selector is missing before \",\"", 3),
    ("div >", "cannot end with the combinator \">\"", 6),
    ("> div", "cannot start with the combinator \">\"", 1),
    ("div > > p", "two combinators in a row", 7),
    ("[=x]", "an attribute name must follow \"[\"", 2),
    ("[href x]", "expected \"]\" or an operator", 7),
    ("[href=]", "a value must follow the operator", 7),
    ("[data-id=123]", "the attribute value 123 must be quoted", 10),
    ("[href=\"x\" q]", "unknown attribute flag \"q\"", 11),
    ("[href==x]", "unexpected \"=\"", 7),
    ("[href = x y]", "unknown attribute flag \"y\"", 11),
    ("#123", "an id cannot start with a digit", 1),
    (".123", "a class name cannot start with a digit", 1),
    (".", "a class name must follow \".\"", 1),
    ("div.", "a class name must follow \".\"", 4),
    ("#", "unexpected \"#\"", 1),
    ("div#", "unexpected \"#\"", 4),
    (":", "a pseudo-class name must follow \":\"", 2),
    (":hovr", "unknown pseudo-class :hovr (did you mean :hover?)", 1),
    ("li:first-chld", "did you mean :first-child?", 3),
    ("p::befor", "unknown pseudo-element ::befor (did you mean ::before?)", 2),
    (":not", ":not needs an argument", 1),
    (":not()", "a selector is missing inside ()", 6),
    (":nth-child(2n+)", "\"2n+\" is not a position for :nth-child()", 12),
    (":nth-child()", ":nth-child() needs a position", 12),
    (":nth-child(a)", "\"a\" is not a position", 12),
    (":nth-child(2 n)", "\"2 n\" is not a position", 12),
    (":nth-of-type(2n of .a)", ":nth-of-type() takes no \"of\" selector", 17),
    (":hover(x)", ":hover takes no argument", 1),
    ("p:contains(x)", ":contains is jQuery's, not CSS", 2),
    ("li:eq(1)", ":eq is jQuery's, not CSS", 3),
    (":has(:has(a))", ":has() cannot be nested", 6),
    ("svg|rect", "the namespace prefix \"svg|\" is not declared", 4),
    ("[xlink|href]", "the namespace prefix \"xlink|\" is not declared", 7),
    ("*|", "an element name or * must follow \"|\"", 3),
    ("div ]", "unexpected \"]\" with nothing open", 5),
    ("div)", "unexpected \")\" with nothing open", 4),
    ("a {color: red}", "unexpected \"{\"", 3),
    (":first", ":first is jQuery's, not CSS", 1),
    (":not(::before)", "a pseudo-element cannot be inside :not()", 6),
    (":has(::before)", "a pseudo-element cannot be inside", 6),
    (":not(> a)", "cannot start with the combinator \">\"", 6),
    (":has(,a)", "a selector is missing before \",\"", 6),
    (":has(a,)", "a selector is missing after \",\"", 8),
    (":nth-child(- 3)", "\"- 3\" is not a position", 12),
    (":nth-child(n of)", "a blank must follow \"of\"", 16),
    ("[a=b c]", "unknown attribute flag \"c\"", 6),
    ("[a=\"b\" i s]", "unexpected \"s\"", 10),
    ("div|p", "the namespace prefix \"div|\" is not declared", 4),
    ("*|*|*", "unexpected \"|\"", 4),
    ("**", "unexpected \"*\"", 2),
    ("*a", "unexpected \"a\"", 2),
    ("a/**/b", "unexpected \"b\"", 6),
    ("-", "unexpected \"-\"", 1),
    ("-1a", "unexpected number \"-1a\"", 1),
    ("#-1a", "an id cannot start with a digit", 1),
    (":host()", ":host() needs a selector", 7),
    ("::part()", "::part() needs a name", 8),
    (":lang(en-*)", "unexpected \"*\"", 10),
    ("@media", "unexpected \"@media\"", 1),
    ("li:nth-child", ":nth-child needs an argument", 3),
    ("div!", "unexpected \"!\"", 4),
    ("p::before.x", "nothing but pseudo-classes may follow a pseudo-element", 10),
    ("p::before span", "a pseudo-element must end the selector", 2),
    ("col || td", "the column combinator \"||\" is not supported", 5),
    ("div \"x\"", "unexpected \"\"x\"\"", 5),
    ("h1@", "unexpected \"@\"", 3),
    ("[a=\"b\nc\"]", "a quoted string is broken by a line end", 4),
    ("div 2", "unexpected number \"2\"", 5),
    (":not(", "a selector is missing inside ()", 6),
    ("[a=", "a value must follow the operator", 4),
]

@Suite struct CSSSelectorTests {
    @Test func acceptsEveryValidSelector() {
        for selector in validSelectors + specOnlySelectors {
            #expect(CSSSelector.problem(in: selector) == nil, "\(selector)")
        }
    }

    @Test(arguments: invalidSelectors.indices)
    func rejectsMalformedSelectorsWithReasonAndPlace(index: Int) {
        let (selector, reason, position) = invalidSelectors[index]
        let problem = CSSSelector.problem(in: selector)
        #expect(problem?.reason.contains(reason) == true, "\(selector): \(problem?.description ?? "accepted")")
        #expect(problem?.position == position, "\(selector): \(problem?.description ?? "accepted")")
    }

    @Test func anPlusB() {
        for ok in ["odd", "even", "3", "-3", "+3", "n", "-n", "+n", "2n", "2n+1", "2n + 1", "2n- 1", "-n+3", " 5 "] {
            #expect(CSSSelector.problem(in: ":nth-child(\(ok))") == nil, "\(ok)")
        }
        for bad in ["", "+ 3", "- n", "2 n", "2n+", "n-", "2n1", "++1", "oddd", "1.5", "2n+1n"] {
            #expect(CSSSelector.problem(in: ":nth-child(\(bad))") != nil, "\(bad)")
        }
    }
}

extension Chrome {
    /// The tables above are what Chrome says: each valid selector runs in `querySelector`, each
    /// invalid one throws there.
    @Suite struct CSSSelectorChromeTests {
        @Test func chromeAgreesWithTheTables() async throws {
            let all = validSelectors + invalidSelectors.map(\.selector)
            let results = try await chromeVerdicts(all, check: "document.querySelector(s)")
            #expect(results.count == all.count)
            for (selector, result) in zip(all, results) {
                let weAccept = CSSSelector.problem(in: selector) == nil
                #expect(result.isNull == weAccept, "\(selector): Chrome says \(result.stringValue ?? "valid")")
            }
        }
    }
}
