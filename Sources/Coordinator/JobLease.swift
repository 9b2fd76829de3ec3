import CrawlKit

/// One live run per job across machines: a lease object (`RunLayout.leaseKey`) that says which
/// coordinator runs which run of the job, until when. The rules are this plain value; the S3
/// calls (create with `If-None-Match: *`, renew and take over with `If-Match: ETAG`) live with
/// the store that makes them.
public struct JobLease: Codable, Sendable, Equatable {
    public var job: String
    public var run: String
    /// Who holds it, for the message a second coordinator prints: `crawlrun pid P on HOST`.
    public var owner: String
    /// Random per holder: tells this coordinator's own write from another's (a retried create
    /// whose first answer was lost finds its own lease, not a stranger's).
    public var token: String
    public var acquiredAt: String
    /// Seconds since 1970 (UTC) after which the lease is anybody's; `expires`: the same, readable.
    public var expiresAt: Double
    public var expires: String

    public init(job: String, run: String, owner: String, token: String, acquiredAt: String, expiresAt: Double) {
        self.job = job
        self.run = run
        self.owner = owner
        self.token = token
        self.acquiredAt = acquiredAt
        self.expiresAt = expiresAt
        self.expires = Timestamp.format(epochSeconds: expiresAt)
    }

    /// The same lease, good until `now + seconds`.
    public func renewed(now: Double, seconds: Double) -> JobLease {
        var copy = self
        copy.expiresAt = now + seconds
        copy.expires = Timestamp.format(epochSeconds: copy.expiresAt)
        return copy
    }

    /// What to do about the lease object found (nil: there is none).
    public enum Decision: Sendable, Equatable {
        /// No lease: create one (`If-None-Match: *`).
        case create
        /// A live lease of another coordinator: exit 75 naming it.
        case held(JobLease)
        /// Our own lease (a create retried after its answer was lost): keep it.
        case ours
        /// A lease past its expiry (its coordinator died or lost the network): replace it with
        /// `If-Match` on its ETag, so two coordinators taking it over at once cannot both win;
        /// `previous` (nil when unreadable) names the run to resume.
        case takeOver(previous: JobLease?)
    }

    public static func decide(found: JobLease?, exists: Bool, now: Double, token: String) -> Decision {
        guard exists else { return .create }
        guard let found else { return .takeOver(previous: nil) }
        if found.token == token { return .ours }
        return found.expiresAt > now ? .held(found) : .takeOver(previous: found)
    }

    /// Renewals per lease period: a coordinator that misses two in a row still holds it.
    public static let renewalsPerPeriod = 3.0

    /// The lease period (`CRAWLRUN_LEASE_SECONDS`, default 60 s, at least 2 s).
    public static func seconds(environment: [String: String]) -> Double {
        environment["CRAWLRUN_LEASE_SECONDS"].flatMap(Double.init).map { max(2, $0) } ?? 60
    }
}
