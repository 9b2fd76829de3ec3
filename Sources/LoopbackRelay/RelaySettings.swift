/// What `crawler relay` is told: `--listen ADDRESS --allow SUBNET/BITS --port N [--port N …]`.
public struct RelaySettings: Sendable, Equatable {
    /// The address it listens on (the run network's gateway), host byte order.
    public var listen: UInt32
    /// Who may connect: the run network's subnet.
    public var allowed: IPv4Range
    /// The loopback ports the run's URLs name; each is listened on and forwarded as is.
    public var ports: [UInt16]

    public init(listen: UInt32, allowed: IPv4Range, ports: [UInt16]) {
        self.listen = listen
        self.allowed = allowed
        self.ports = ports
    }

    public static let usage = "usage: crawler relay --listen IPV4 --allow IPV4/BITS --port N [--port N …]"

    /// The command line after `relay`.
    public init(arguments: [String]) throws(RelayError) {
        var listen: UInt32?
        var allowed: IPv4Range?
        var ports: [UInt16] = []
        var i = 0
        while i < arguments.count {
            let name = arguments[i]
            guard i + 1 < arguments.count else { throw RelayError("\(name) needs a value (\(Self.usage))") }
            let value = arguments[i + 1]
            switch name {
            case "--listen":
                guard let ip = IPv4.parse(value) else { throw RelayError("--listen \(value) is not an IPv4 address") }
                listen = ip
            case "--allow":
                guard let range = IPv4Range(value) else { throw RelayError("--allow \(value) is not IPV4/BITS") }
                allowed = range
            case "--port":
                guard let port = UInt16(value), port > 0 else { throw RelayError("--port \(value) is not a TCP port") }
                if !ports.contains(port) { ports.append(port) }
            default:
                throw RelayError("unknown argument \(name) (\(Self.usage))")
            }
            i += 2
        }
        guard let listen, let allowed, !ports.isEmpty else { throw RelayError(Self.usage) }
        self.init(listen: listen, allowed: allowed, ports: ports)
    }

    /// The command line `init(arguments:)` reads.
    public var arguments: [String] {
        ["--listen", IPv4.format(listen), "--allow", allowed.description] + ports.flatMap { ["--port", String($0)] }
    }
}

/// IPv4 addresses as host-order integers.
public enum IPv4 {
    public static let loopback: UInt32 = 0x7F00_0001

    public static func parse(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard part.count <= 3, let byte = UInt8(part) else { return nil }
            value = value << 8 | UInt32(byte)
        }
        return value
    }

    public static func format(_ ip: UInt32) -> String {
        [24, 16, 8, 0].map { String((ip >> UInt32($0)) & 0xFF) }.joined(separator: ".")
    }
}

/// `address/bits`.
public struct IPv4Range: Sendable, Equatable, CustomStringConvertible {
    public var network: UInt32
    public var bits: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let ip = IPv4.parse(String(parts[0])), let bits = Int(parts[1]), (0...32).contains(bits)
        else { return nil }
        self.bits = bits
        network = ip & Self.mask(bits)
    }

    static func mask(_ bits: Int) -> UInt32 { bits == 0 ? 0 : UInt32.max << UInt32(32 - bits) }

    public func contains(_ ip: UInt32) -> Bool { ip & Self.mask(bits) == network }

    public var description: String { "\(IPv4.format(network))/\(bits)" }
}
