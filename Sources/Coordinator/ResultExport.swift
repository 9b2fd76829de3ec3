import CrawlKit
import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `crawlrun export`: a run's results.jsonl as CSV (RFC 4180) or flat JSON Lines, one row per
/// URL. Columns, always in this order: `url, ok, status, finalUrl, title, error, errorMessage`,
/// then the fields (the `fields` asked for, in that order; else every field any record has,
/// sorted by name). A field named like a fixed column is `fields.NAME`. A list field is joined
/// with `separator` in CSV and stays a JSON array in JSON Lines; with `explode`, a URL with list
/// fields gives one row per item instead (the lists side by side: row i takes each list's item
/// i, empty past a list's end), so a URL whose lists are empty still gives its one row.
public struct ResultExport: Sendable {
    public enum Format: String, Sendable, CaseIterable { case csv, jsonl }

    public var format: Format
    public var fields: [String]?
    public var separator: String
    public var explode: Bool

    public static let fixedColumns = ["url", "ok", "status", "finalUrl", "title", "error", "errorMessage"]
    public static let defaultSeparator = " | "

    public init(
        format: Format, fields: [String]? = nil, separator: String = Self.defaultSeparator, explode: Bool = false
    ) {
        self.format = format
        self.fields = fields
        self.separator = separator
        self.explode = explode
    }

    /// Why a results file cannot be read: its name and line.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The records of a results.jsonl; `name` names it in messages. Blank lines are skipped.
    public static func records(_ data: Data, name: String) throws(Problem) -> [ResultRecord] {
        let decoder = JSONDecoder()
        var out: [ResultRecord] = []
        for (i, line) in data.split(separator: 10, omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
            guard let record = try? decoder.decode(ResultRecord.self, from: Data(line)) else {
                throw Problem(description: "\(name):\(i + 1): not a result record (README, \"Result record\")")
            }
            out.append(record)
        }
        return out
    }

    /// The field columns for `records`: the ones asked for (each must occur in some record, or
    /// be a typo the message names), else all of them by name.
    public func fieldNames(_ records: [ResultRecord]) throws(Problem) -> [String] {
        let present = Set(records.flatMap(\.fields.keys))
        guard let fields else { return present.sorted() }
        for name in fields where !present.contains(name) && !records.isEmpty {
            let hint = closest(name, in: Array(present)).map { " (did you mean \($0)?)" } ?? ""
            let known =
                present.isEmpty ? "the records have no fields" : "fields: \(present.sorted().joined(separator: ", "))"
            throw Problem(description: "--fields: no record has a field \"\(name)\"\(hint); \(known)")
        }
        return fields
    }

    /// The whole export.
    public func render(_ records: [ResultRecord]) throws(Problem) -> [UInt8] {
        let names = try fieldNames(records)
        let columns = Self.fixedColumns + names.map { Self.fixedColumns.contains($0) ? "fields." + $0 : $0 }
        var out: [UInt8] = []
        if format == .csv { out += csvLine(columns.map { .string($0) }) }
        for record in records {
            for row in rows(record, names) {
                switch format {
                case .csv: out += csvLine(row)
                case .jsonl:
                    var w = JSONWriter()
                    w.beginObject()
                    for (column, value) in zip(columns, row) { w.field(column, value) }
                    w.endObject()
                    out += w.bytes + [10]
                }
            }
        }
        return out
    }

    /// A record's row (or rows, exploded), as values in column order.
    func rows(_ r: ResultRecord, _ names: [String]) -> [[JSONValue]] {
        let fixed: [JSONValue] = [
            .string(r.url), .bool(r.ok), r.status.map { .number(Double($0)) } ?? .null,
            r.finalUrl.map { .string($0) } ?? .null, r.title.map { .string($0) } ?? .null,
            r.error.map { .string($0.kind.rawValue) } ?? .null, r.error.map { .string($0.message) } ?? .null,
        ]
        let values = names.map { r.fields[$0] ?? .null }
        let longest = values.compactMap { $0.arrayValue?.count }.max()
        guard explode, let longest else { return [fixed + values] }
        return (0..<max(1, longest)).map { i in
            fixed + values.map { v in v.arrayValue.map { i < $0.count ? $0[i] : .null } ?? v }
        }
    }

    /// One CSV record (RFC 4180 §2): CRLF-terminated; a cell holding a comma, quote, CR or LF
    /// (or starting or ending with a space, which some readers trim) is quoted, its quotes doubled.
    func csvLine(_ values: [JSONValue]) -> [UInt8] {
        var line = values.map { Self.quoted(cell($0)) }.joined(separator: ",")
        line += "\r\n"
        return Array(line.utf8)
    }

    func cell(_ v: JSONValue) -> String {
        switch v {
        case .null: return ""
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .array(let items): return items.map(cell).joined(separator: separator)
        default: return String(decoding: v.encoded(), as: UTF8.self)
        }
    }

    static func quoted(_ s: String) -> String {
        let needs =
            s.contains { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }
            || s.hasPrefix(" ") || s.hasSuffix(" ")
        return needs ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}
