/// Just enough XML for S3's answers and AWS's XML errors: the text of named elements. S3's
/// documents are flat records (`<Contents><Key>…</Key>…</Contents>`), so a scan for start and end
/// tags is exact there; it is not a general parser (no attributes, namespaces or CDATA needed).
/// https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
public struct XMLText: Sendable {
    let text: Substring

    public init(_ bytes: some Collection<UInt8>) { text = Substring(String(decoding: bytes, as: UTF8.self)) }
    init(_ text: Substring) { self.text = text }

    /// The decoded text of the first `<name>` element, at any depth.
    public func first(_ name: String) -> String? { ranges(name).first.map { Self.decodeEntities(text[$0]) } }

    /// Every `<name>` element's content, as XML to scan further.
    public func all(_ name: String) -> [XMLText] { ranges(name).map { XMLText(text[$0]) } }

    /// Content ranges of `<name>…</name>` (and `<name/>`, empty); `<name ` with attributes allowed.
    private func ranges(_ name: String) -> [Range<Substring.Index>] {
        var found: [Range<Substring.Index>] = []
        var rest = text[...]
        let open = "<" + name
        let close = "</" + name + ">"
        while let start = rest.firstRange(of: open) {
            guard let tagEnd = rest[start.upperBound...].firstIndex(of: ">") else { break }
            let between = rest[start.upperBound..<tagEnd]
            // `<Keys>` is not `<Key>`: the name must end at whitespace, `/` or `>`.
            if let c = between.first, c != " ", c != "/", c != "\t", c != "\n" {
                rest = rest[start.upperBound...]
                continue
            }
            let contentStart = rest.index(after: tagEnd)
            if between.hasSuffix("/") {
                found.append(contentStart..<contentStart)
                rest = rest[contentStart...]
                continue
            }
            guard let end = rest[contentStart...].firstRange(of: close) else { break }
            found.append(contentStart..<end.lowerBound)
            rest = rest[end.upperBound...]
        }
        return found
    }

    /// The five predefined entities and numeric character references (XML 1.0 §4.6, §4.1).
    static func decodeEntities(_ s: Substring) -> String {
        guard s.contains("&") else { return String(s) }
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            if s[i] == "&", let semi = s[i...].prefix(12).firstIndex(of: ";") {
                let entity = s[s.index(after: i)..<semi]
                var replacement: String?
                switch entity {
                case "amp": replacement = "&"
                case "lt": replacement = "<"
                case "gt": replacement = ">"
                case "quot": replacement = "\""
                case "apos": replacement = "'"
                default:
                    if entity.hasPrefix("#x"), let v = UInt32(entity.dropFirst(2), radix: 16) {
                        replacement = Unicode.Scalar(v).map { String(Character($0)) }
                    } else if entity.hasPrefix("#"), let v = UInt32(entity.dropFirst()) {
                        replacement = Unicode.Scalar(v).map { String(Character($0)) }
                    }
                }
                if let replacement {
                    out += replacement
                    i = s.index(after: semi)
                    continue
                }
            }
            out.append(s[i])
            i = s.index(after: i)
        }
        return out
    }
}

/// An XML element as a tree, for answers with nested lists (EC2's `<routeTableSet><item>…
/// <routeSet><item>`), which a flat scan cannot tell apart. Text is the element's own character
/// data, entities decoded; attributes, comments, processing instructions and the prolog are
/// skipped, CDATA is kept as text. Namespace prefixes stay part of the name (EC2 uses none).
/// https://www.w3.org/TR/xml/
public struct XMLNode: Sendable, Equatable {
    public var name: String
    public var text: String
    public var children: [XMLNode]

    /// The first child element named `name`.
    public func child(_ name: String) -> XMLNode? { children.first { $0.name == name } }
    /// Every child element named `name`.
    public func children(_ name: String) -> [XMLNode] { children.filter { $0.name == name } }
    /// The text of the first child named `name`.
    public func string(_ name: String) -> String? { child(name)?.text }
    /// The text of the first element named `name` at any depth below this one, depth first.
    public func first(_ name: String) -> String? {
        for c in children {
            if c.name == name { return c.text }
            if let found = c.first(name) { return found }
        }
        return nil
    }
    /// The `<item>` elements of the list `<name>` (EC2's shape for every list).
    public func items(_ name: String) -> [XMLNode] { child(name)?.children("item") ?? [] }

    /// The document's root element; nil when the text is not well-formed enough to read.
    public static func parse(_ bytes: some Collection<UInt8>) -> XMLNode? {
        let s = Array(bytes)
        var stack: [XMLNode] = []
        var root: XMLNode?
        var i = 0
        func starts(_ pattern: String, at j: Int) -> Bool {
            let p = Array(pattern.utf8)
            return j + p.count <= s.count && s[j..<j + p.count].elementsEqual(p)
        }
        func find(_ pattern: String, from start: Int) -> Int? {
            var j = start
            while j < s.count {
                if starts(pattern, at: j) { return j }
                j += 1
            }
            return nil
        }
        func appendText(_ bytes: ArraySlice<UInt8>, decode: Bool) {
            guard !stack.isEmpty else { return }
            let raw = String(decoding: bytes, as: UTF8.self)
            stack[stack.count - 1].text += decode ? XMLText.decodeEntities(Substring(raw)) : raw
        }
        while i < s.count {
            guard s[i] == UInt8(ascii: "<") else {
                let next = s[i...].firstIndex(of: UInt8(ascii: "<")) ?? s.count
                appendText(s[i..<next], decode: true)
                i = next
                continue
            }
            if starts("<![CDATA[", at: i) {
                guard let close = find("]]>", from: i + 9) else { return nil }
                appendText(s[(i + 9)..<close], decode: false)
                i = close + 3
            } else if starts("<!--", at: i) {
                guard let close = find("-->", from: i + 4) else { return nil }
                i = close + 3
            } else if i + 1 < s.count, s[i + 1] == UInt8(ascii: "?") || s[i + 1] == UInt8(ascii: "!") {
                guard let close = s[i...].firstIndex(of: UInt8(ascii: ">")) else { return nil }
                i = close + 1
            } else if i + 1 < s.count, s[i + 1] == UInt8(ascii: "/") {
                guard let close = s[i...].firstIndex(of: UInt8(ascii: ">")), var done = stack.popLast() else {
                    return nil
                }
                done.text = done.children.isEmpty ? done.text : done.text.trimmingWhitespace().description
                if stack.isEmpty { root = done } else { stack[stack.count - 1].children.append(done) }
                i = close + 1
            } else {
                // A start tag; `>` inside a quoted attribute value does not end it.
                var j = i + 1
                var quote: UInt8?
                while j < s.count {
                    if let q = quote {
                        if s[j] == q { quote = nil }
                    } else if s[j] == UInt8(ascii: "\"") || s[j] == UInt8(ascii: "'") {
                        quote = s[j]
                    } else if s[j] == UInt8(ascii: ">") {
                        break
                    }
                    j += 1
                }
                guard j < s.count else { return nil }
                let selfClosing = s[j - 1] == UInt8(ascii: "/")
                let tag = s[(i + 1)..<(selfClosing ? j - 1 : j)]
                let nameEnd = tag.firstIndex { $0 == 32 || $0 == 9 || $0 == 10 || $0 == 13 } ?? tag.endIndex
                let node = XMLNode(name: String(decoding: tag[..<nameEnd], as: UTF8.self), text: "", children: [])
                if selfClosing {
                    if stack.isEmpty { root = node } else { stack[stack.count - 1].children.append(node) }
                } else {
                    stack.append(node)
                }
                i = j + 1
            }
            if root != nil { return root }
        }
        return root
    }
}
