import HTTP
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The time requests are signed with: this machine's clock plus an offset learnt from AWS. SigV4
/// signatures are valid for 15 minutes around the service's time, so a machine whose clock is
/// further off gets every call refused ("Signature expired", `RequestTimeTooSkewed`). As the SDKs
/// do, such an answer sets the offset from its `Date` header and the call is signed again once.
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/signature-v4-troubleshooting.html
public final class SigningClock: Sendable {
    private let offset: Mutex<Double>

    public init(offset: Double = 0) { self.offset = Mutex(offset) }

    /// Seconds to add to this machine's clock to get AWS's.
    public var offsetSeconds: Double { offset.withLock { $0 } }

    /// AWS's time now, seconds since the epoch.
    public func now() -> Double { Self.localNow() + offsetSeconds }

    static func localNow() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// The codes services answer a request signed too far from their time with (the JavaScript
    /// SDK's list): STS and EC2 `SignatureDoesNotMatch`/`AuthFailure` "Signature expired", JSON
    /// services `InvalidSignatureException`, S3 `RequestTimeTooSkewed`.
    /// https://github.com/aws/aws-sdk-js-v3/blob/main/packages/service-error-classification/src/constants.ts
    static let skewCodes: Set<String> = [
        "AuthFailure", "InvalidSignatureException", "RequestExpired", "RequestInTheFuture", "RequestTimeTooSkewed",
        "SignatureDoesNotMatch",
    ]

    /// After a refused call: when `error` is a clock-skew code and the answer's `Date` is more
    /// than 5 s from the time signed with, takes the answer's time and says so (sign again).
    /// A signature refused for another reason (a wrong secret on a clock in step) is left alone.
    public func correct(after error: AWSError, response: HTTPResponse) -> Bool {
        guard Self.skewCodes.contains(error.code), let date = response.header("Date"),
            let server = Self.parseHTTPDate(date)
        else { return false }
        return offset.withLock { current in
            let measured = server - Self.localNow()
            guard abs(measured - current) > 5 else { return false }
            current = measured.rounded()
            return true
        }
    }

    /// Measures the offset from any answer's `Date` header (`doctor`), without changing it.
    public static func offset(of response: HTTPResponse) -> Double? {
        response.header("Date").flatMap(parseHTTPDate).map { ($0 - localNow()).rounded() }
    }

    /// RFC 9110 IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`, the form AWS sends.
    /// https://www.rfc-editor.org/rfc/rfc9110#section-5.6.7
    static func parseHTTPDate(_ s: String) -> Double? {
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let parts = s.split(whereSeparator: { $0 == " " || $0 == ":" || $0 == "," })
        guard parts.count >= 7, let day = Int(parts[1]), let month = months.firstIndex(of: String(parts[2])),
            let year = Int(parts[3]), let h = Int(parts[4]), let m = Int(parts[5]), let sec = Int(parts[6])
        else { return nil }
        var t = tm()
        t.tm_year = Int32(year - 1900)
        t.tm_mon = Int32(month)
        t.tm_mday = Int32(day)
        t.tm_hour = Int32(h)
        t.tm_min = Int32(m)
        t.tm_sec = Int32(sec)
        return Double(timegm(&t))
    }
}
