import JSONKit

/// What to take from a page: the text (or an attribute) of the first, or every, match of a
/// CSS selector. In a job or batch file either a bare selector string or
/// `{"selector": "a", "attr": "href", "all": true}`; `attr: "html"` takes the inner HTML.
/// An XPath 1.0 expression instead: `"xpath://h1"`, or `{"xpath": "//a/@href", "all": true}`
/// (kept as `selector` with the `xpath:` prefix, so the batch file carries it unchanged).
public struct FieldSpec: Codable, Sendable, Equatable {
    public var selector: String
    public var attr: String?
    public var all: Bool

    public init(selector: String, attr: String? = nil, all: Bool = false) {
        self.selector = selector
        self.attr = attr
        self.all = all
    }

    /// The XPath expression when this field is one (its selector starts with `xpath:`).
    public var xpath: String? {
        selector.hasPrefix(XPathExpression.prefix) ? String(selector.dropFirst(XPathExpression.prefix.count)) : nil
    }

    enum CodingKeys: String, CodingKey { case selector, xpath, attr, all }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(selector, forKey: .selector)
        try c.encodeIfPresent(attr, forKey: .attr)
        try c.encode(all, forKey: .all)
    }

    public init(from decoder: any Decoder) throws {
        if let selector = try? decoder.singleValueContainer().decode(String.self) {
            self.init(selector: selector)
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let xpath = try c.decodeIfPresent(String.self, forKey: .xpath)
        self.init(
            selector: try xpath.map { XPathExpression.prefix + $0 } ?? c.decode(String.self, forKey: .selector),
            attr: try c.decodeIfPresent(String.self, forKey: .attr),
            all: try c.decodeIfPresent(Bool.self, forKey: .all) ?? false)
    }

    /// The job-file form.
    public var json: JSONValue {
        var spec: [String: JSONValue] = ["selector": .string(selector)]
        if let attr { spec["attr"] = .string(attr) }
        if all { spec["all"] = true }
        return .object(spec)
    }
}

extension FieldSpec {
    /// Reads `crawlrun crawl --field NAME=SELECTOR[@ATTR]` (`NAME[]=…` takes every match), or
    /// `NAME=xpath:EXPR`.
    /// The selector is checked here, so a typo is a usage error, not a failure on every page;
    /// `failure` makes the caller's error from the message.
    public static func parse<Failure: Error>(
        option text: String, orThrow failure: (String) -> Failure
    ) throws(Failure) -> (name: String, spec: FieldSpec) {
        let usage = "--field takes NAME=SELECTOR[@ATTR], as in title=h1 or links[]=a@href; not \"\(text)\""
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex else { throw failure(usage) }
        var name = String(text[..<eq])
        let all = name.hasSuffix("[]")
        if all { name.removeLast(2) }
        let value = String(text[text.index(after: eq)...])
        if value.hasPrefix(XPathExpression.prefix) {
            // XPath has its own @ (`//a/@href`): the whole value is the expression.
            guard !name.isEmpty else { throw failure(usage) }
            if let message = XPathExpression.fieldMessage(for: value) {
                throw failure("--field \"\(text)\": \(message)")
            }
            return (name, FieldSpec(selector: value, all: all))
        }
        let parts = splitAttributes(value)
        let selector = parts[0]
        guard !name.isEmpty, !selector.trimmingLineWhitespace().isEmpty else { throw failure(usage) }
        if parts.count > 2 {
            throw failure(
                "--field \"\(text)\": one @ATTR per field, found \(parts.dropFirst().map { "@" + $0 }.joined(separator: " and ")); give one --field per attribute"
            )
        }
        let attr = parts.count == 2 ? parts[1] : nil
        if let attr {
            guard !attr.isEmpty else {
                throw failure("--field \"\(text)\": an attribute name must follow @, as in links[]=a@href")
            }
            guard attr.allSatisfy({ $0.isLetter || $0.isNumber || "-_:.".contains($0) }) else {
                throw failure("--field \"\(text)\": \"\(attr)\" is not an attribute name")
            }
        }
        if let message = CSSSelector.message(for: selector) { throw failure("--field \"\(text)\": \(message)") }
        return (name, FieldSpec(selector: selector, attr: attr, all: all))
    }

    /// Splits `SELECTOR@ATTR` at each `@` outside quotes, brackets and escapes: a selector may
    /// hold an `@` there (`a[href^="mailto:x@"]`) but nowhere else.
    static func splitAttributes(_ text: String) -> [String] {
        var parts = [""]
        var quote: Character?
        var depth = 0
        var escaped = false
        for c in text {
            if escaped {
                escaped = false
            } else if c == "@" && quote == nil && depth == 0 {
                parts.append("")
                continue
            } else {
                switch c {
                case "\\": escaped = true
                case "\"", "'": if quote == nil { quote = c } else if quote == c { quote = nil }
                case "[", "(": if quote == nil { depth += 1 }
                case "]", ")": if quote == nil { depth = max(0, depth - 1) }
                default: break
                }
            }
            parts[parts.count - 1].append(c)
        }
        return parts
    }
}
