/// Type selectors, namespace prefixes and attribute selectors: the parts of a compound that name
/// an element or an attribute (Selectors 4, §5 and §6).
extension SelectorParser {
    /// `<type-selector>` with its namespace prefix, when there is one.
    mutating func typeSelector() throws(CSSSelectorError) {
        let t = token
        let isName: Bool
        switch t.kind {
        case .ident: isName = true
        case .delim("*"): isName = false
        case .delim("|"):
            if peek().isDelim("|") { return }
            try namespaced(prefix: nil)
            return
        default: return
        }
        k += 1
        if token.isDelim("|") && !peek().isDelim("|") && !peek().isDelim("=") {
            try namespaced(prefix: isName ? raw(t) : "*")
        }
    }

    /// After a namespace prefix: the `|` and a name or `*`. querySelector has no way to
    /// declare a prefix, so only `*|` (any) and `|` (none) can work.
    mutating func namespaced(prefix: String?) throws(CSSSelectorError) {
        if let prefix, prefix != "*" {
            throw fail("the namespace prefix \"\(prefix)|\" is not declared (querySelector knows only *| and |)")
        }
        k += 1
        switch token.kind {
        case .ident, .delim("*"): k += 1
        default: throw fail("an element name or * must follow \"|\"")
        }
    }

    /// `[name]`, `[name op value flag]` (Selectors 4, §6).
    mutating func attribute() throws(CSSSelectorError) {
        let open = token
        k += 1
        skipWhitespace()
        switch token.kind {
        case .ident:
            k += 1
            if token.isDelim("|"), case .ident = peek().kind { try namespaced(prefix: raw(tokens[k - 1])) }
        case .delim("*"), .delim("|"):
            if token.isDelim("*") { k += 1 }
            guard token.isDelim("|"), case .ident = peek().kind else {
                throw fail("an attribute name must follow \"[\"")
            }
            k += 2
        case .eof: throw fail("an attribute name must follow \"[\"", at: open)
        default: throw fail("an attribute name must follow \"[\"")
        }
        skipWhitespace()
        if token.kind == .close("]") || token.kind == .eof {
            k += 1
            return
        }
        if token.isDelim("=") {
            k += 1
        } else if case .delim(let c) = token.kind, "~|^$*".unicodeScalars.contains(c), peek().isDelim("=") {
            k += 2
        } else {
            throw fail("expected \"]\" or an operator (= ~= |= ^= $= *=) after the attribute name")
        }
        skipWhitespace()
        switch token.kind {
        case .ident, .string: k += 1
        case .number, .percentage, .dimension:
            throw fail("the attribute value \(raw(token)) must be quoted: \"\(raw(token))\"")
        case .eof: throw fail("a value must follow the operator")
        case .close("]"): throw fail("a value must follow the operator (\"\" for an empty one)")
        default: throw unexpected(token)
        }
        skipWhitespace()
        if case .ident(let flag) = token.kind {
            guard ["i", "s"].contains(flag.lowercased()) else {
                throw fail("unknown attribute flag \"\(flag)\" (i or s); quote a value that has blanks")
            }
            k += 1
            skipWhitespace()
        }
        guard token.kind == .close("]") || token.kind == .eof else { throw unexpected(token) }
        k += 1
    }
}
