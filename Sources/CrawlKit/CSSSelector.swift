/// Why a CSS selector is not valid, and where: `position` counts characters from 1.
public struct CSSSelectorError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var position: Int
    public var description: String { "\(reason) (at character \(position))" }
}

/// Checks CSS selector syntax before a run: a browser rejects a malformed selector only when a
/// page runs it, so a typo in a job would otherwise fail every page. There is no browser at
/// plan time; this follows the grammar of Selectors Level 4
/// (https://www.w3.org/TR/selectors-4/#grammar) over CSS Syntax tokens, with what
/// `querySelector` adds: namespace prefixes other than `*|` and `|` are undeclared, and unknown
/// pseudo-classes and pseudo-elements are errors.
public enum CSSSelector {
    /// nil when `selector` is a valid selector list, else the first problem.
    public static func problem(in selector: String) -> CSSSelectorError? {
        var parser = SelectorParser(selector)
        do {
            try parser.selectorList(relative: false, forgiving: false, closing: nil)
            return nil
        } catch {
            return error
        }
    }

    /// The job-file message for an invalid selector, or nil when it is valid.
    public static func message(for selector: String) -> String? {
        problem(in: selector).map { "\"\(selector.prefix(120))\" is not a valid CSS selector: \($0)" }
    }
}

/// Recursive descent over the tokens; each method consumes one grammar production or throws.
struct SelectorParser {
    let tokens: [CSSToken]
    let text: [Unicode.Scalar]
    var k = 0
    /// Inside `:has()`, where another `:has()` is not allowed (Selectors 4, §4.5).
    var inHas = false
    /// Inside `:not()`, `:is()`, `:where()` or `:has()`, where pseudo-elements are not allowed
    /// (Selectors 4, §4.2).
    var inLogical = false

    init(_ source: String) { (tokens, text) = CSSTokenizer.tokens(source) }

    var token: CSSToken { tokens[min(k, tokens.count - 1)] }
    func peek(_ ahead: Int = 1) -> CSSToken { tokens[min(k + ahead, tokens.count - 1)] }

    func fail(_ reason: String, at t: CSSToken? = nil) -> CSSSelectorError {
        CSSSelectorError(reason: reason, position: (t ?? token).start + 1)
    }

    /// The token as written, for messages.
    func raw(_ t: CSSToken) -> String {
        var s = ""
        s.unicodeScalars.append(contentsOf: text[t.start..<t.end])
        return s
    }

    func unexpected(_ t: CSSToken) -> CSSSelectorError {
        switch t.kind {
        case .eof: return fail("the selector ends too early", at: t)
        case .badString: return fail("a quoted string is broken by a line end", at: t)
        case .close(let c): return fail("unexpected \"\(c)\" with nothing open", at: t)
        case .delim("/"), .delim("\\"), .delim("!"), .delim("$"), .delim("%"), .delim("^"), .delim("?"),
            .delim("="), .delim(";"), .delim("@"), .delim("<"), .delim("`"):
            return fail("unexpected \"\(raw(t))\"", at: t)
        case .number where raw(t).hasPrefix("."), .dimension where raw(t).hasPrefix("."):
            return fail("a class name cannot start with a digit", at: t)
        case .number, .percentage, .dimension:
            return fail("unexpected number \"\(raw(t))\" (a class or id cannot start with a digit)", at: t)
        default: return fail("unexpected \"\(raw(t).prefix(40))\"", at: t)
        }
    }

    @discardableResult
    mutating func skipWhitespace() -> Bool {
        var skipped = false
        while token.kind == .whitespace {
            k += 1
            skipped = true
        }
        return skipped
    }

    /// Whether the token closes the list being read: the `)` of a function, or the end of input,
    /// which closes every open parenthesis and bracket (CSS Syntax 3, §5.4.8), as browsers do.
    func isEnd(_ t: CSSToken, _ closing: Unicode.Scalar?) -> Bool {
        t.kind == .eof || (closing != nil && t.kind == .close(closing ?? ")"))
    }

    /// `<complex-selector-list>` (or relative), up to the end or the closing parenthesis.
    mutating func selectorList(relative: Bool, forgiving: Bool, closing: Unicode.Scalar?) throws(CSSSelectorError) {
        if forgiving { return forgivingList() }
        while true {
            skipWhitespace()
            if token.kind == .comma || isEnd(token, closing) {
                throw fail(
                    token.kind == .comma
                        ? "a selector is missing before \",\""
                        : "a selector is missing\(closing == nil ? "" : " inside ()")"
                )
            }
            try complex(relative: relative)
            skipWhitespace()
            if token.kind == .comma {
                k += 1
                skipWhitespace()
                if isEnd(token, closing) { throw fail("a selector is missing after \",\"") }
                continue
            }
            if isEnd(token, closing) { return }
            throw unexpected(token)
        }
    }

    static let combinators: Set<Unicode.Scalar> = [">", "+", "~"]

    func combinator(_ t: CSSToken) -> Unicode.Scalar? {
        if case .delim(let c) = t.kind, Self.combinators.contains(c) { return c }
        return nil
    }

    /// `<complex-selector>`: compounds joined by combinators (a blank is the descendant one).
    mutating func complex(relative: Bool) throws(CSSSelectorError) {
        if let c = combinator(token) {
            guard relative else { throw fail("a selector cannot start with the combinator \"\(c)\"") }
            k += 1
            skipWhitespace()
        }
        var pseudoElement = try compound()
        while true {
            let blank = skipWhitespace()
            let joined: Bool
            if let c = combinator(token) {
                k += 1
                skipWhitespace()
                guard startsCompound(token) else {
                    if let d = combinator(token) { throw fail("two combinators in a row (\"\(c)\" then \"\(d)\")") }
                    throw fail("a selector cannot end with the combinator \"\(c)\"")
                }
                joined = true
            } else if token.isDelim("|") && peek().isDelim("|") {
                throw fail("the column combinator \"||\" is not supported by browsers")
            } else {
                joined = blank && startsCompound(token)
            }
            guard joined else { return }
            if let pseudoElement { throw fail("a pseudo-element must end the selector", at: pseudoElement) }
            pseudoElement = try compound()
        }
    }

    func startsCompound(_ t: CSSToken) -> Bool {
        switch t.kind {
        case .ident, .hash, .colon, .open("["), .delim("*"), .delim("|"), .delim("."), .delim("&"): return true
        default: return false
        }
    }

    /// `<compound-selector>`: an optional type selector, then ids, classes, attributes and
    /// pseudo-classes, then pseudo-elements (each followed only by pseudo-classes).
    /// Returns its first pseudo-element, if any.
    @discardableResult
    mutating func compound() throws(CSSSelectorError) -> CSSToken? {
        let first = k
        try typeSelector()
        var pseudoElement: CSSToken?
        var afterPseudoElement: Bool { pseudoElement != nil }
        while true {
            let t = token
            switch t.kind {
            case .hash(let name, let isIdentifier):
                if afterPseudoElement { throw fail("nothing but pseudo-classes may follow a pseudo-element") }
                guard isIdentifier else {
                    throw fail("an id cannot start with a digit (#\(name)); write it as [id=\"\(name)\"]")
                }
                k += 1
            case .delim("."):
                if afterPseudoElement { throw fail("nothing but pseudo-classes may follow a pseudo-element") }
                guard case .ident = peek().kind else {
                    let next = peek()
                    if case .number = next.kind { throw fail("a class name cannot start with a digit") }
                    if case .dimension = next.kind { throw fail("a class name cannot start with a digit") }
                    throw fail("a class name must follow \".\"")
                }
                k += 2
            case .open("["):
                if afterPseudoElement { throw fail("nothing but pseudo-classes may follow a pseudo-element") }
                try attribute()
            case .colon:
                guard try pseudo() else { continue }
                if inLogical {
                    throw fail("a pseudo-element cannot be inside :not(), :is(), :where() or :has()", at: t)
                }
                if pseudoElement == nil { pseudoElement = t }
            case .delim("&"):
                k += 1
            default:
                if k == first { throw unexpected(t) }
                return pseudoElement
            }
        }
    }

    /// A pseudo-class or pseudo-element; true for a pseudo-element.
    mutating func pseudo() throws(CSSSelectorError) -> Bool {
        let start = token
        k += 1
        let isElement = token.kind == .colon
        if isElement { k += 1 }
        let prefix = isElement ? "::" : ":"
        switch token.kind {
        case .ident(let written):
            let name = written.lowercased()
            k += 1
            if CSSPseudo.isVendorPrefixed(name) { return isElement }
            if isElement ? CSSPseudo.elements.contains(name) : CSSPseudo.classes.contains(name) { return isElement }
            if !isElement && CSSPseudo.legacyElements.contains(name) { return true }
            let functional = isElement ? CSSPseudo.functionalElements : CSSPseudo.functionalClasses
            if functional[name] != nil {
                throw fail("\(prefix)\(name) needs an argument: \(prefix)\(name)(…)", at: start)
            }
            throw unknown(name, prefix: prefix, at: start)
        case .function(let written):
            let name = written.lowercased()
            k += 1
            let functional = isElement ? CSSPseudo.functionalElements : CSSPseudo.functionalClasses
            if let argument = functional[name] {
                try arguments(argument, of: "\(prefix)\(name)", opened: start)
            } else if CSSPseudo.isVendorPrefixed(name) {
                try skipArguments()
            } else if (isElement ? CSSPseudo.elements : CSSPseudo.classes).contains(name) {
                throw fail("\(prefix)\(name) takes no argument", at: start)
            } else {
                throw unknown(name, prefix: prefix, at: start)
            }
            return isElement
        default:
            throw fail("a \(isElement ? "pseudo-element" : "pseudo-class") name must follow \"\(prefix)\"")
        }
    }

    func unknown(_ name: String, prefix: String, at t: CSSToken) -> CSSSelectorError {
        if prefix == ":" && CSSPseudo.jQueryOnly.contains(name) {
            return fail(":\(name) is jQuery's, not CSS: browsers reject it", at: t)
        }
        let known =
            prefix == ":"
            ? Array(CSSPseudo.classes) + CSSPseudo.functionalClasses.keys
            : Array(CSSPseudo.elements) + CSSPseudo.functionalElements.keys
        let hint = closest(name, in: known).map { " (did you mean \(prefix)\($0)?)" } ?? ""
        return fail("unknown \(prefix == ":" ? "pseudo-class" : "pseudo-element") \(prefix)\(name)\(hint)", at: t)
    }
}
