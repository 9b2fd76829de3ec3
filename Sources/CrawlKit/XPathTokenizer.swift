/// One token of an XPath 1.0 expression (https://www.w3.org/TR/1999/REC-xpath-19991116/#exprlex),
/// with its place: `start` counts Unicode scalars from 0.
struct XPathToken: Equatable {
    enum Kind: Equatable {
        /// `(` `)` `[` `]` `.` `..` `@` `,` `::` `/` `//` `|` `+` `-` `=` `!=` `<` `<=` `>` `>=`
        case symbol(String)
        /// `*` before the lexical disambiguation (a name test or the multiply operator).
        case star
        /// An NCName or QName, with an optional `prefix:*` form (`name` is then `prefix:*`).
        case name(String)
        case literal
        case number
        /// `$QName`
        case variable(String)
        case end
        case bad(String)
    }
    var kind: Kind
    var start: Int
    var end: Int
}

/// Splits an XPath 1.0 expression into tokens. Whitespace separates tokens and is otherwise
/// ignored (ExprWhitespace); which names are operators, axes, functions or node types is decided
/// by the parser, which sees the neighbouring tokens (spec §3.7).
enum XPathTokenizer {
    static func tokens(_ source: String) -> (tokens: [XPathToken], text: [Unicode.Scalar]) {
        let s = Array(source.unicodeScalars)
        var out: [XPathToken] = []
        var i = 0
        func isNameStart(_ c: Unicode.Scalar) -> Bool {
            c == "_" || c.properties.isAlphabetic || c.value >= 0xC0 && !c.properties.isWhitespace
        }
        func isNameChar(_ c: Unicode.Scalar) -> Bool {
            isNameStart(c) || c == "-" || c == "." || ("0"..."9").contains(c) || c.value == 0xB7
        }
        func isDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }
        /// An NCName from `i`; its end.
        func ncName(_ from: Int) -> Int {
            var j = from
            while j < s.count && isNameChar(s[j]) { j += 1 }
            return j
        }
        while i < s.count {
            let c = s[i]
            if c == " " || c == "\t" || c == "\n" || c == "\r" {
                i += 1
                continue
            }
            let start = i
            let next: Unicode.Scalar? = i + 1 < s.count ? s[i + 1] : nil
            switch c {
            case "(", ")", "[", "]", "@", ",", "|", "+", "-", "=":
                i += 1
                out.append(XPathToken(kind: .symbol(String(c)), start: start, end: i))
            case "*":
                i += 1
                out.append(XPathToken(kind: .star, start: start, end: i))
            case "!":
                guard next == "=" else {
                    out.append(XPathToken(kind: .bad("!"), start: start, end: i + 1))
                    return (out, s)
                }
                i += 2
                out.append(XPathToken(kind: .symbol("!="), start: start, end: i))
            case "<", ">":
                i += next == "=" ? 2 : 1
                out.append(XPathToken(kind: .symbol(String(c) + (i - start == 2 ? "=" : "")), start: start, end: i))
            case "/":
                i += next == "/" ? 2 : 1
                out.append(XPathToken(kind: .symbol(i - start == 2 ? "//" : "/"), start: start, end: i))
            case ":":
                guard next == ":" else {
                    out.append(XPathToken(kind: .bad(":"), start: start, end: i + 1))
                    return (out, s)
                }
                i += 2
                out.append(XPathToken(kind: .symbol("::"), start: start, end: i))
            case ".":
                if let next, isDigit(next) {
                    i += 1
                    while i < s.count && isDigit(s[i]) { i += 1 }
                    out.append(XPathToken(kind: .number, start: start, end: i))
                } else {
                    i += next == "." ? 2 : 1
                    out.append(XPathToken(kind: .symbol(i - start == 2 ? ".." : "."), start: start, end: i))
                }
            case "\"", "'":
                guard let close = s[(i + 1)...].firstIndex(of: c) else {
                    out.append(XPathToken(kind: .bad("unclosed"), start: start, end: s.count))
                    return (out, s)
                }
                i = close + 1
                out.append(XPathToken(kind: .literal, start: start, end: i))
            case "$":
                guard i + 1 < s.count, isNameStart(s[i + 1]) else {
                    out.append(XPathToken(kind: .bad("$"), start: start, end: i + 1))
                    return (out, s)
                }
                i = ncName(i + 1)
                if i + 1 < s.count, s[i] == ":", isNameStart(s[i + 1]) { i = ncName(i + 1) }
                out.append(XPathToken(kind: .variable(text(s, start + 1, i)), start: start, end: i))
            default:
                if isDigit(c) {
                    while i < s.count && isDigit(s[i]) { i += 1 }
                    if i < s.count && s[i] == "." {
                        i += 1
                        while i < s.count && isDigit(s[i]) { i += 1 }
                    }
                    out.append(XPathToken(kind: .number, start: start, end: i))
                } else if isNameStart(c) {
                    i = ncName(i)
                    // QName (`prefix:local`) or `prefix:*`, but not `axis::`.
                    if i + 1 < s.count, s[i] == ":", s[i + 1] != ":" {
                        if s[i + 1] == "*" {
                            i += 2
                        } else if isNameStart(s[i + 1]) {
                            i = ncName(i + 1)
                        }
                    }
                    out.append(XPathToken(kind: .name(text(s, start, i)), start: start, end: i))
                } else {
                    out.append(XPathToken(kind: .bad(String(c)), start: start, end: i + 1))
                    return (out, s)
                }
            }
        }
        out.append(XPathToken(kind: .end, start: s.count, end: s.count))
        return (out, s)
    }

    static func text(_ s: [Unicode.Scalar], _ from: Int, _ to: Int) -> String {
        var out = ""
        out.unicodeScalars.append(contentsOf: s[from..<to])
        return out
    }
}
