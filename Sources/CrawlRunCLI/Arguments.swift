import CrawlKit

/// A usage error: printed with the command's name, exit code 64.
public struct UsageError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}

/// A command of `crawlrun`: its help, the arguments it takes, a `validate` step (its
/// initialiser, which turns parsed arguments into typed options or throws a `UsageError`) and
/// `run` — the design of swift-argument-parser, without the package.
protocol Command: Sendable {
    static var name: String { get }
    static var help: String { get }
    static var arguments: ArgumentSpec { get }
    init(_ parsed: ParsedArguments) throws(UsageError)
    func run() async throws -> ExitCode
}

/// What a command accepts: flags, options that take a value (repeatable or not), and how many
/// positional arguments.
struct ArgumentSpec {
    var flags: Set<String> = []
    var options: Set<String> = []
    var repeatable: Set<String> = []
    /// Short spellings: `-q` for `--quiet`.
    var aliases: [String: String] = [:]
    var positionals: ClosedRange<Int> = 0...0
    /// What the positional arguments are, for messages ("a job file").
    var positionalName = "argument"

    /// Both specs' flags and options; the positionals of `other`.
    func merging(_ other: ArgumentSpec) -> ArgumentSpec {
        var s = self
        s.flags.formUnion(other.flags)
        s.options.formUnion(other.options)
        s.repeatable.formUnion(other.repeatable)
        s.aliases.merge(other.aliases) { a, _ in a }
        s.positionals = other.positionals
        s.positionalName = other.positionalName
        return s
    }
}

/// The arguments as given: flags seen, option values in order, positionals.
struct ParsedArguments {
    var command: String
    var flags: Set<String> = []
    var values: [String: [String]] = [:]
    var positionals: [String] = []
    var help = false

    /// Parses `arguments` against `spec`: `--opt value` and `--opt=value`, `--` ends options,
    /// `-` alone is a positional (standard input).
    init(_ arguments: [String], spec: ArgumentSpec, command: String) throws(UsageError) {
        self.command = command
        var it = arguments.makeIterator()
        var onlyPositionals = false
        while let raw = it.next() {
            if onlyPositionals || raw == "-" || !raw.hasPrefix("-") {
                positionals.append(raw)
                continue
            }
            if raw == "--" {
                onlyPositionals = true
                continue
            }
            if raw == "--help" || raw == "-h" {
                help = true
                continue
            }
            var name = raw
            var inline: String?
            if let eq = raw.firstIndex(of: "="), raw.hasPrefix("--") {
                name = String(raw[..<eq])
                inline = String(raw[raw.index(after: eq)...])
            }
            name = spec.aliases[name] ?? name
            if spec.flags.contains(name) {
                guard inline == nil else { throw UsageError("\(name) takes no value") }
                flags.insert(name)
            } else if spec.options.contains(name) {
                guard let value = inline ?? it.next() else { throw UsageError("\(name) needs a value") }
                if values[name] != nil && !spec.repeatable.contains(name) {
                    throw UsageError("\(name) is given twice")
                }
                values[name, default: []].append(value)
            } else {
                throw UsageError("unknown option \(name)" + Self.suggestion(name, in: spec.flags.union(spec.options)))
            }
        }
        guard !help else { return }
        if positionals.count < spec.positionals.lowerBound {
            throw UsageError("\(command) needs \(spec.positionalName): see crawlrun \(command) --help")
        }
        if positionals.count > spec.positionals.upperBound {
            throw UsageError(
                spec.positionals.upperBound == 1
                    ? "one \(spec.positionalName) at a time (got \(positionals.joined(separator: " and ")))"
                    : "unexpected argument \(positionals[spec.positionals.upperBound])")
        }
    }

    func flag(_ name: String) -> Bool { flags.contains(name) }
    func value(_ name: String) -> String? { values[name]?.last }
    func all(_ name: String) -> [String] { values[name] ?? [] }

    func int(_ name: String, in range: ClosedRange<Int>) throws(UsageError) -> Int? {
        guard let v = value(name) else { return nil }
        guard let n = Int(v), range.contains(n) else {
            throw UsageError(
                "\(name) takes a whole number from \(range.lowerBound) to \(range.upperBound), not \"\(v)\"")
        }
        return n
    }

    func number(_ name: String, in range: ClosedRange<Double>) throws(UsageError) -> Double? {
        guard let v = value(name) else { return nil }
        guard let n = Double(v), n.isFinite, range.contains(n) else {
            throw UsageError(
                "\(name) takes a number from \(Self.show(range.lowerBound)) to \(Self.show(range.upperBound)), not \"\(v)\""
            )
        }
        return n
    }

    func choice<T: RawRepresentable>(_ name: String, _ type: T.Type, names: [String]) throws(UsageError) -> T?
    where T.RawValue == String {
        guard let v = value(name) else { return nil }
        guard let c = T(rawValue: v) else {
            throw UsageError("\(name) takes \(names.joined(separator: ", ")), not \"\(v)\"")
        }
        return c
    }

    static func show(_ x: Double) -> String { x.rounded() == x ? String(Int(x)) : String(x) }

    /// " (did you mean --max-tasks?)" when a known option is a typo away.
    static func suggestion(_ name: String, in known: Set<String>) -> String {
        closest(name, in: Array(known)).map { " (did you mean \($0)?)" } ?? ""
    }
}
