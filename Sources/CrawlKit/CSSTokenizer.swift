/// A CSS token, as far as selectors need them (CSS Syntax Level 3, "Tokenization":
/// https://www.w3.org/TR/css-syntax-3/#tokenization). Positions count Unicode scalars from 0.
struct CSSToken: Equatable {
    enum Kind: Equatable {
        case ident(String)
        /// An identifier followed by "(": the name, without the parenthesis.
        case function(String)
        case atKeyword(String)
        /// `#name`; `isIdentifier` is false for `#123`, which is no id selector.
        case hash(String, isIdentifier: Bool)
        /// A string. One the input ends before closing counts as closed: the end of input closes
        /// what is open (https://www.w3.org/TR/css-syntax-3/#consume-string-token), and so do
        /// browsers (`a[href="x` works in `querySelector`).
        case string(String)
        /// A string broken by a line end.
        case badString
        case number, percentage
        case dimension(unit: String)
        case whitespace
        case delim(Unicode.Scalar)
        case colon, semicolon, comma
        /// `[`, `(` or `{`.
        case open(Unicode.Scalar)
        /// `]`, `)` or `}`.
        case close(Unicode.Scalar)
        case eof
    }
    var kind: Kind
    var start: Int
    var end: Int

    func isDelim(_ c: Unicode.Scalar) -> Bool { kind == .delim(c) }
}

/// Splits selector text into tokens. Never fails: malformed input becomes tokens (a lone `\`
/// is a delim, a broken string a `badString`) that the selector grammar then rejects.
struct CSSTokenizer {
    let text: [Unicode.Scalar]
    private var i = 0

    init(_ source: String) { text = Array(source.unicodeScalars) }

    static func tokens(_ source: String) -> (tokens: [CSSToken], text: [Unicode.Scalar]) {
        var t = CSSTokenizer(source)
        var out: [CSSToken] = []
        while true {
            let token = t.next()
            out.append(token)
            if token.kind == .eof { return (out, t.text) }
        }
    }

    private func at(_ k: Int) -> Unicode.Scalar? { k < text.count ? text[k] : nil }

    mutating func next() -> CSSToken {
        skipComments()
        let start = i
        guard let c = at(i) else { return CSSToken(kind: .eof, start: i, end: i) }
        let kind: CSSToken.Kind
        switch c {
        case _ where Self.isWhitespace(c):
            while let w = at(i), Self.isWhitespace(w) { i += 1 }
            // Comments between blanks belong to the same whitespace run.
            skipComments()
            while let w = at(i), Self.isWhitespace(w) {
                i += 1
                skipComments()
            }
            kind = .whitespace
        case "\"", "'": kind = string(quote: c)
        case "#":
            if let n = at(i + 1), Self.isName(n) || isEscape(i + 1) {
                let isIdentifier = startsIdent(i + 1)
                i += 1
                kind = .hash(name(), isIdentifier: isIdentifier)
            } else {
                i += 1
                kind = .delim(c)
            }
        case "(", "[", "{":
            i += 1
            kind = .open(c)
        case ")", "]", "}":
            i += 1
            kind = .close(c)
        case ",": i += 1; kind = .comma
        case ":": i += 1; kind = .colon
        case ";": i += 1; kind = .semicolon
        case "@":
            i += 1
            kind = startsIdent(i) ? .atKeyword(name()) : .delim(c)
        case _ where startsNumber(i): kind = numeric()
        case _ where startsIdent(i): kind = identLike()
        default:
            i += 1
            kind = .delim(c)
        }
        return CSSToken(kind: kind, start: start, end: i)
    }

    private mutating func skipComments() {
        while at(i) == "/" && at(i + 1) == "*" {
            i += 2
            while i < text.count && !(at(i) == "*" && at(i + 1) == "/") { i += 1 }
            i = min(i + 2, text.count)
        }
    }

    private mutating func string(quote: Unicode.Scalar) -> CSSToken.Kind {
        i += 1
        var value = ""
        while let c = at(i) {
            if c == quote {
                i += 1
                return .string(value)
            }
            if Self.isNewline(c) { return .badString }
            if c == "\\" {
                guard let n = at(i + 1) else {
                    i += 1
                    continue
                }
                if Self.isNewline(n) {
                    i += 2
                    continue
                }
                i += 1
                value.unicodeScalars.append(escape())
                continue
            }
            value.unicodeScalars.append(c)
            i += 1
        }
        return .string(value)
    }

    private mutating func numeric() -> CSSToken.Kind {
        if at(i) == "+" || at(i) == "-" { i += 1 }
        while let c = at(i), Self.isDigit(c) { i += 1 }
        if at(i) == ".", let d = at(i + 1), Self.isDigit(d) {
            i += 1
            while let c = at(i), Self.isDigit(c) { i += 1 }
        }
        if at(i) == "e" || at(i) == "E" {
            let sign = at(i + 1) == "+" || at(i + 1) == "-" ? 1 : 0
            if let d = at(i + 1 + sign), Self.isDigit(d) {
                i += 1 + sign
                while let c = at(i), Self.isDigit(c) { i += 1 }
            }
        }
        if startsIdent(i) { return .dimension(unit: name()) }
        if at(i) == "%" {
            i += 1
            return .percentage
        }
        return .number
    }

    private mutating func identLike() -> CSSToken.Kind {
        let n = name()
        if at(i) == "(" {
            i += 1
            return .function(n)
        }
        return .ident(n)
    }

    /// Consumes a name (https://www.w3.org/TR/css-syntax-3/#consume-name).
    private mutating func name() -> String {
        var out = ""
        while let c = at(i) {
            if Self.isName(c) {
                out.unicodeScalars.append(c)
                i += 1
            } else if isEscape(i) {
                i += 1
                out.unicodeScalars.append(escape())
            } else {
                break
            }
        }
        return out
    }

    /// After the backslash: up to six hex digits and one blank, or the next code point.
    private mutating func escape() -> Unicode.Scalar {
        guard let c = at(i) else { return "\u{FFFD}" }
        guard c.properties.isASCIIHexDigit else {
            i += 1
            return c
        }
        var value: UInt32 = 0
        var digits = 0
        while digits < 6, let h = at(i), h.properties.isASCIIHexDigit, let v = UInt32(String(h), radix: 16) {
            value = value * 16 + v
            digits += 1
            i += 1
        }
        if let w = at(i), Self.isWhitespace(w) { i += 1 }
        guard value != 0, let scalar = Unicode.Scalar(value) else { return "\u{FFFD}" }
        return scalar
    }

    /// A backslash not followed by a line end (at the end of input it stands for U+FFFD).
    private func isEscape(_ k: Int) -> Bool {
        guard at(k) == "\\" else { return false }
        guard let n = at(k + 1) else { return true }
        return !Self.isNewline(n)
    }

    private func startsIdent(_ k: Int) -> Bool {
        guard let c = at(k) else { return false }
        if c == "-" {
            guard let n = at(k + 1) else { return false }
            return Self.isNameStart(n) || n == "-" || isEscape(k + 1)
        }
        return Self.isNameStart(c) || isEscape(k)
    }

    private func startsNumber(_ k: Int) -> Bool {
        guard let c = at(k) else { return false }
        if c == "+" || c == "-" {
            guard let n = at(k + 1) else { return false }
            return Self.isDigit(n) || (n == "." && at(k + 2).map(Self.isDigit) == true)
        }
        if c == "." { return at(k + 1).map(Self.isDigit) == true }
        return Self.isDigit(c)
    }

    static func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }
    static func isNameStart(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" || c.value >= 0x80
    }
    static func isName(_ c: Unicode.Scalar) -> Bool { isNameStart(c) || isDigit(c) || c == "-" }
    static func isNewline(_ c: Unicode.Scalar) -> Bool { c == "\n" || c == "\r" || c == "\u{0C}" }
    static func isWhitespace(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" || isNewline(c) }
}
