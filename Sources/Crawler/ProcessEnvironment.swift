#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

public enum ProcessEnvironment {
    public static var current: [String: String] { ProcessInfo.processInfo.environment }
}

public enum FileHandleStderr {
    public static func write(_ text: String) {
        var t = text
        t.withUTF8 { buf in _ = Glibc.write(2, buf.baseAddress, buf.count) }
    }
}
