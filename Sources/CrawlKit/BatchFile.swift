#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The crawler's input: `{"batch": "0007", "urls": […], "crawl": {…}}` (DESIGN.md).
public struct BatchFile: Codable, Sendable, Equatable {
    public var batch: String
    public var urls: [String]
    public var crawl: CrawlOptions

    public init(batch: String, urls: [String], crawl: CrawlOptions = CrawlOptions()) {
        self.batch = batch
        self.urls = urls
        self.crawl = crawl
    }

    enum CodingKeys: String, CodingKey { case batch, urls, crawl }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        batch = try c.decode(String.self, forKey: .batch)
        urls = try c.decode([String].self, forKey: .urls)
        crawl = try c.decodeIfPresent(CrawlOptions.self, forKey: .crawl) ?? CrawlOptions()
    }
}

/// Turns a DecodingError into "path: problem", the way a user reads it.
public func describeDecodingError(_ error: any Error) -> String {
    guard let error = error as? DecodingError else { return "\(error)" }
    func path(_ keys: [any CodingKey]) -> String {
        var out = ""
        for key in keys {
            if let i = key.intValue {
                out += "[\(i)]"
            } else {
                out += out.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return out.isEmpty ? "(top level)" : out
    }
    switch error {
    case .typeMismatch(let type, let ctx):
        return "\(path(ctx.codingPath)): expected \(typeName(type))"
    case .valueNotFound(let type, let ctx):
        return "\(path(ctx.codingPath)): expected \(typeName(type)), found null"
    case .keyNotFound(let key, let ctx):
        return "\(path(ctx.codingPath + [key])): required key is missing"
    case .dataCorrupted(let ctx):
        if ctx.codingPath.isEmpty { return "not valid JSON (\(ctx.debugDescription))" }
        return "\(path(ctx.codingPath)): \(ctx.debugDescription)"
    @unknown default:
        return "\(error)"
    }
}

private func typeName(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: return "a string"
    case is Int.Type: return "an integer"
    case is Double.Type: return "a number"
    case is Bool.Type: return "true or false"
    case is [String].Type: return "an array of strings"
    default:
        let name = "\(type)"
        if name.hasPrefix("Array") { return "an array" }
        if name.hasPrefix("Dictionary") { return "an object" }
        return "a value of type \(name)"
    }
}
