/// The arguments of functional pseudo-classes and pseudo-elements (`:not(…)`, `:nth-child(…)`).
extension SelectorParser {
    /// Reads what `name` takes up to and including its `)`.
    mutating func arguments(_ argument: CSSPseudo.Argument, of name: String, opened: CSSToken) throws(CSSSelectorError)
    {
        let outer = (inHas, inLogical)
        defer { (inHas, inLogical) = outer }
        switch argument {
        case .selectors(let forgiving):
            inLogical = true
            try selectorList(relative: false, forgiving: forgiving, closing: ")")
        case .relativeSelectors:
            if inHas { throw fail(":has() cannot be nested inside :has()", at: opened) }
            (inHas, inLogical) = (true, true)
            try selectorList(relative: true, forgiving: false, closing: ")")
        case .nth(let ofAllowed):
            try nth(of: name, ofAllowed: ofAllowed)
        case .compound:
            skipWhitespace()
            if token.kind == .close(")") { throw fail("\(name)() needs a selector") }
            try compound()
        case .names:
            try list(of: name, separator: .comma, allowsStrings: true)
        case .identifiers:
            try list(of: name, separator: .whitespace, allowsStrings: false)
        case .transitionName:
            skipWhitespace()
            switch token.kind {
            case .ident, .delim("*"): k += 1
            default: throw fail("\(name)() takes * or a view transition name")
            }
            while token.isDelim("."), case .ident = peek().kind { k += 2 }
        }
        skipWhitespace()
        try close()
    }

    /// The closing `)`, or the end of input (which closes it).
    mutating func close() throws(CSSSelectorError) {
        switch token.kind {
        case .close(")"): k += 1
        case .eof: return
        default: throw unexpected(token)
        }
    }

    /// Identifiers (or strings) separated by commas or by blanks; at least one.
    mutating func list(of name: String, separator: CSSToken.Kind, allowsStrings: Bool) throws(CSSSelectorError) {
        skipWhitespace()
        while true {
            switch token.kind {
            case .ident: k += 1
            case .string where allowsStrings: k += 1
            case .close(")"), .eof: throw fail("\(name)() needs \(allowsStrings ? "a name or a string" : "a name")")
            default: throw unexpected(token)
            }
            if separator == .comma {
                skipWhitespace()
                guard token.kind == .comma else { return }
                k += 1
                skipWhitespace()
            } else if !skipWhitespace() {
                return
            } else if token.kind == .close(")") {
                return
            }
        }
    }

    /// `An+B`, then `of S` where allowed (https://www.w3.org/TR/selectors-4/#the-nth-child-pseudo).
    mutating func nth(of name: String, ofAllowed: Bool) throws(CSSSelectorError) {
        skipWhitespace()
        let first = k
        while true {
            switch token.kind {
            case .close(")"), .eof: break
            case .ident(let word) where word.lowercased() == "of": break
            default:
                k += 1
                continue
            }
            break
        }
        var formula = ""
        for t in tokens[first..<k] { formula += raw(t) }
        guard Self.isAnPlusB(formula) else {
            let shown = formula.trimmingLineWhitespace()
            throw fail(
                shown.isEmpty
                    ? "\(name)() needs a position: a number, odd, even or An+B such as 2n+1"
                    : "\"\(shown.prefix(40))\" is not a position for \(name)(): use a number, odd, even or An+B such as 2n+1",
                at: tokens[first])
        }
        guard case .ident = token.kind else { return }
        guard ofAllowed else { throw fail("\(name)() takes no \"of\" selector (:nth-child() does)") }
        k += 1
        guard skipWhitespace() else { throw fail("a blank must follow \"of\"") }
        try selectorList(relative: false, forgiving: false, closing: ")")
    }

    /// The An+B microsyntax (https://www.w3.org/TR/css-syntax-3/#anb-microsyntax): `odd`,
    /// `even`, `B`, or `An` with an optional `+B`/`-B`; blanks only around the sign of B.
    static func isAnPlusB(_ text: String) -> Bool {
        let s = Array(text.trimmingLineWhitespace().lowercased().unicodeScalars)
        if s == Array("odd".unicodeScalars) || s == Array("even".unicodeScalars) { return true }
        var i = 0
        func digits() -> Int {
            let start = i
            while i < s.count, CSSTokenizer.isDigit(s[i]) { i += 1 }
            return i - start
        }
        func blanks() { while i < s.count, CSSTokenizer.isWhitespace(s[i]) { i += 1 } }
        if i < s.count, s[i] == "+" || s[i] == "-" { i += 1 }
        let a = digits()
        if i == s.count { return a > 0 }
        guard s[i] == "n" else { return false }
        i += 1
        blanks()
        if i == s.count { return true }
        guard s[i] == "+" || s[i] == "-" else { return false }
        i += 1
        blanks()
        return digits() > 0 && i == s.count
    }

    /// A forgiving list (`:is()`, `:where()`): an item that does not parse is dropped, not an
    /// error (https://www.w3.org/TR/selectors-4/#forgiving-selector), so `:is(:-moz-x, a)` works.
    mutating func forgivingList() {
        while true {
            let start = k
            do throws(CSSSelectorError) {
                skipWhitespace()
                try complex(relative: false)
                skipWhitespace()
                if !(token.kind == .comma || isEnd(token, ")")) { throw unexpected(token) }
            } catch {
                k = start
                skipBalanced(stopAtComma: true)
            }
            guard token.kind == .comma else { return }
            k += 1
        }
    }

    /// Skips the balanced arguments of a vendor-prefixed function the grammar does not know.
    mutating func skipArguments() throws(CSSSelectorError) {
        skipBalanced(stopAtComma: false)
        if token.kind == .badString { throw unexpected(token) }
        k += 1
    }

    /// Moves to the `)` that closes the current function (or a top-level comma), or to the end.
    mutating func skipBalanced(stopAtComma: Bool) {
        var depth = 0
        while true {
            switch token.kind {
            case .eof, .badString: return
            case .comma where depth == 0 && stopAtComma: return
            case .close(")") where depth == 0: return
            case .open, .function: depth += 1
            case .close: depth = max(0, depth - 1)
            default: break
            }
            k += 1
        }
    }
}
