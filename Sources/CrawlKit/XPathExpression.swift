/// Checks XPath field expressions before a run, as `CSSSelector` does CSS selectors: a browser
/// rejects a malformed expression only when a page evaluates it (`document.evaluate`), so a typo
/// would fail every page. Follows the XPath 1.0 grammar (https://www.w3.org/TR/1999/REC-xpath-19991116/),
/// which browsers implement, with what `document.evaluate` without a namespace resolver adds:
/// unknown functions, wrong argument counts and namespace prefixes are errors
/// (the tables in XPathTests are checked against Chrome's evaluator).
public enum XPathExpression {
    /// The field-string prefix that makes a field an XPath expression: `"xpath://h1"`.
    public static let prefix = "xpath:"

    /// nil when `expression` is valid, else the first problem (`position` counts from 1).
    public static func problem(in expression: String) -> CSSSelectorError? {
        var parser = XPathParser(expression)
        do {
            try parser.check()
            return nil
        } catch {
            return error
        }
    }

    /// The job-file message for an invalid expression, or nil when it is valid.
    public static func message(for expression: String) -> String? {
        problem(in: expression).map { "\"\(expression.prefix(120))\" is not a valid XPath expression: \($0)" }
    }

    /// The message for a field's selector string: XPath after `xpath:`, else CSS.
    public static func fieldMessage(for selector: String) -> String? {
        guard selector.hasPrefix(prefix) else { return CSSSelector.message(for: selector) }
        let expression = String(selector.dropFirst(prefix.count))
        guard !expression.allSatisfy(\.isWhitespace) else { return "an XPath expression must follow \"xpath:\"" }
        return message(for: expression)
    }

    /// XPath 1.0's core function library (§4) by name: the argument counts each accepts.
    static let functions: [String: ClosedRange<Int>] = [
        "last": 0...0, "position": 0...0, "count": 1...1, "id": 1...1, "local-name": 0...1,
        "namespace-uri": 0...1, "name": 0...1, "string": 0...1, "concat": 2...Int.max, "starts-with": 2...2,
        "contains": 2...2, "substring-before": 2...2, "substring-after": 2...2, "substring": 2...3,
        "string-length": 0...1, "normalize-space": 0...1, "translate": 3...3, "boolean": 1...1, "not": 1...1,
        "true": 0...0, "false": 0...0, "lang": 1...1, "number": 0...1, "sum": 1...1, "floor": 1...1,
        "ceiling": 1...1, "round": 1...1,
    ]
    static let axes: Set<String> = [
        "ancestor", "ancestor-or-self", "attribute", "child", "descendant", "descendant-or-self", "following",
        "following-sibling", "namespace", "parent", "preceding", "preceding-sibling", "self",
    ]
    static let nodeTypes: Set<String> = ["comment", "text", "processing-instruction", "node"]
}

/// Recursive descent over the tokens, one method per production of XPath 1.0's grammar.
struct XPathParser {
    let tokens: [XPathToken]
    let text: [Unicode.Scalar]
    var k = 0

    init(_ source: String) { (tokens, text) = XPathTokenizer.tokens(source) }

    var token: XPathToken { tokens[min(k, tokens.count - 1)] }
    func peek(_ ahead: Int = 1) -> XPathToken { tokens[min(k + ahead, tokens.count - 1)] }
    func fail(_ reason: String, at t: XPathToken? = nil) -> CSSSelectorError {
        CSSSelectorError(reason: reason, position: (t ?? token).start + 1)
    }
    func raw(_ t: XPathToken) -> String { XPathTokenizer.text(text, t.start, t.end) }
    func isSymbol(_ s: String, _ t: XPathToken? = nil) -> Bool { (t ?? token).kind == .symbol(s) }
    func isName(_ s: String) -> Bool { token.kind == .name(s) }

    mutating func check() throws(CSSSelectorError) {
        if token.kind == .end { throw fail("the expression is empty") }
        try expr()
        if token.kind != .end { throw unexpected() }
    }

    func unexpected() -> CSSSelectorError {
        switch token.kind {
        case .end: return fail("the expression ends too early")
        case .bad("unclosed"): return fail("a quoted string is not closed")
        case .bad(let c): return fail("unexpected \"\(c)\"")
        default: return fail("unexpected \"\(raw(token))\"")
        }
    }

    mutating func expr() throws(CSSSelectorError) {
        try binary(["or"], ["and"], ["=", "!="], ["<", "<=", ">", ">="], ["+", "-"])
    }

    /// OrExpr down to AdditiveExpr: each level is `next (op next)*`; operator names (`or`,
    /// `and`) are recognised here, where an operator is expected (§3.7).
    mutating func binary(_ levels: [String]...) throws(CSSSelectorError) { try level(levels[...]) }

    private mutating func level(_ levels: ArraySlice<[String]>) throws(CSSSelectorError) {
        guard let ops = levels.first else { return try multiplicative() }
        try level(levels.dropFirst())
        while ops.contains(where: { isSymbol($0) || isName($0) }) {
            k += 1
            try operand()
            try level(levels.dropFirst())
        }
    }

    mutating func multiplicative() throws(CSSSelectorError) {
        try unary()
        while token.kind == .star || isName("div") || isName("mod") {
            k += 1
            try operand()
            try unary()
        }
    }

    mutating func unary() throws(CSSSelectorError) {
        while isSymbol("-") { k += 1 }
        try path()
        while isSymbol("|") {
            k += 1
            try operand()
            try path()
        }
    }

    /// PathExpr: a filter expression (a primary expression, predicates, then maybe a relative
    /// path) or a location path.
    mutating func path() throws(CSSSelectorError) {
        switch token.kind {
        case .variable, .literal, .number:
            // A variable has no value here; Chrome's evaluator accepts it (as an empty string).
            k += 1
        case .symbol("("):
            k += 1
            try expr()
            guard isSymbol(")") else { throw isEnd ? fail("\")\" is missing") : unexpected() }
            k += 1
        case .name(let name) where isSymbol("(", peek()) && !XPathExpression.nodeTypes.contains(name):
            try functionCall(name)
        default:
            try locationPath()
            return
        }
        while isSymbol("[") { try predicate() }
        if isSymbol("/") || isSymbol("//") {
            k += 1
            try step()
            try relativeRest()
        }
    }

    var isEnd: Bool { token.kind == .end }

    mutating func functionCall(_ name: String) throws(CSSSelectorError) {
        let at = token
        guard let arity = XPathExpression.functions[name] else {
            throw fail("unknown function \(name)() (XPath 1.0 has count(), contains(), normalize-space(), …)", at: at)
        }
        k += 2
        var count = 0
        if !isSymbol(")") {
            try expr()
            count = 1
            while isSymbol(",") {
                k += 1
                try expr()
                count += 1
            }
        }
        guard isSymbol(")") else { throw isEnd ? fail("\")\" is missing") : unexpected() }
        k += 1
        if !arity.contains(count) {
            let wanted =
                arity.upperBound == Int.max
                ? "at least \(arity.lowerBound)"
                : arity.lowerBound == arity.upperBound
                    ? "\(arity.lowerBound)" : "\(arity.lowerBound) or \(arity.upperBound)"
            throw fail("\(name)() takes \(wanted) argument\(wanted == "1" ? "" : "s"), not \(count)", at: at)
        }
    }

    mutating func locationPath() throws(CSSSelectorError) {
        if isSymbol("/") {
            k += 1
            if startsStep { try step() } else { return }
        } else if isSymbol("//") {
            k += 1
            try step()
        } else {
            try step()
        }
        try relativeRest()
    }

    mutating func relativeRest() throws(CSSSelectorError) {
        while isSymbol("/") || isSymbol("//") {
            k += 1
            try step()
        }
    }

    var startsStep: Bool {
        switch token.kind {
        case .star, .name: return true
        case .symbol(let s): return s == "." || s == ".." || s == "@"
        default: return false
        }
    }

    mutating func step() throws(CSSSelectorError) {
        if isSymbol(".") || isSymbol("..") {
            k += 1
            return
        }
        if isSymbol("@") {
            k += 1
        } else if case .name(let axis) = token.kind, isSymbol("::", peek()) {
            guard XPathExpression.axes.contains(axis) else { throw fail("unknown axis \"\(axis)\"") }
            k += 2
        }
        try nodeTest()
        while isSymbol("[") { try predicate() }
    }

    mutating func nodeTest() throws(CSSSelectorError) {
        switch token.kind {
        case .star:
            k += 1
        case .name(let name):
            if isSymbol("(", peek()) {
                guard XPathExpression.nodeTypes.contains(name) else {
                    throw fail("\(name)() is not a node test here (a step takes a name, *, text(), node(), comment())")
                }
                k += 2
                if name == "processing-instruction" && token.kind == .literal { k += 1 }
                guard isSymbol(")") else { throw isEnd ? fail("\")\" is missing") : unexpected() }
                k += 1
            } else {
                if name.contains(":") {
                    throw fail("the namespace prefix in \"\(name)\" cannot be resolved (none is declared)")
                }
                k += 1
            }
        case .bad, .end:
            throw isEnd ? fail("a step is missing at the end") : unexpected()
        default:
            throw fail("a step is missing before \"\(raw(token))\"")
        }
    }

    /// After an operator or an opening bracket: the input must go on.
    func operand() throws(CSSSelectorError) {
        if isEnd { throw fail("the expression ends too early") }
    }

    mutating func predicate() throws(CSSSelectorError) {
        k += 1
        try operand()
        if isSymbol("]") { throw fail("a predicate [ ] must not be empty") }
        try expr()
        guard isSymbol("]") else { throw isEnd ? fail("\"]\" is missing") : unexpected() }
        k += 1
    }
}
