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
