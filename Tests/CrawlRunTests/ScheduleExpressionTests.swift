import FargateBackend
import Foundation
import Testing

/// EventBridge Scheduler's expression rules, checked before any call (schedule-types.html).
@Suite struct ScheduleExpressionTests {
    func message(_ text: String) -> String {
        do {
            _ = try ScheduleExpression.parse(text)
            return "accepted"
        } catch {
            return error.description
        }
    }

    @Test func goodExpressionsAreAccepted() throws {
        for text in [
            "cron(0 3 * * ? *)", "cron(0/15 8-17 ? * MON-FRI *)", "cron(30 2 L * ? *)", "cron(0 9 ? * 2#1 *)",
            "cron(0 0 15W JAN,JUL ? 2027-2030)", "cron(5 4 ? * 6L *)", "rate(1 hour)", "rate(15 minutes)",
            "at(2027-01-31T23:59:00)",
        ] {
            #expect(message(text) == "accepted", "\(text)")
        }
    }

    @Test func eachMistakeNamesItsFieldAndWhatWasExpected() {
        #expect(message("0 3 * * *").hasPrefix("--cron: expected cron(minutes hours"))
        #expect(
            message("cron(0 3 * * *)")
                == "--cron: cron(…) takes six fields (minutes hours day-of-month month day-of-week year), got 5 in \"cron(0 3 * * *)\""
        )
        #expect(message("cron(60 3 * * ? *)") == "--cron minutes: expected 0-59 with , - * /, got \"60\"")
        #expect(message("cron(0 24 * * ? *)") == "--cron hours: expected 0-23 with , - * /, got \"24\"")
        #expect(message("cron(0 3 * FOO ? *)") == "--cron month: expected 1-12 or JAN-DEC with , - * /, got \"FOO\"")
        #expect(
            message("cron(0 3 ? * 8 *)") == "--cron day-of-week: expected 1-7 or SUN-SAT with , - * ? L #, got \"8\"")
        #expect(
            message("cron(0 3 * * * *)").hasPrefix("--cron day-of-month/day-of-week: exactly one of the two must be ?"))
        #expect(message("cron(0 3 ? * ? *)").hasPrefix("--cron day-of-month/day-of-week: exactly one"))
        #expect(message("cron(0 3 * * ? 1969)") == "--cron year: expected 1970-2199 with , - * /, got \"1969\"")
        #expect(message("rate(1 hours)") == "--cron: rate(1 …): the unit is minute, hour, day, got \"hours\"")
        #expect(message("rate(5 minute)") == "--cron: rate(5 …): the unit is minutes, hours, days, got \"minute\"")
        #expect(message("rate(0 minutes)").hasPrefix("--cron: rate(value unit) takes a positive whole number"))
        #expect(
            message("at(2027-13-01T00:00:00)")
                == "--cron: at(…) takes yyyy-mm-ddThh:mm:ss, got \"at(2027-13-01T00:00:00)\"")
    }

    func next(_ text: String, after: String, zone: String = "UTC") throws -> String {
        let utc = TimeZone(identifier: "UTC")!
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd'T'HH:mm"
        f.timeZone = utc
        let date = try #require(f.date(from: after))
        guard let fire = try ScheduleExpression.parse(text).nextFire(after: date, timeZone: TimeZone(identifier: zone)!)
        else { return "never" }
        return f.string(from: fire)
    }

    @Test func nextFireFollowsTheFieldsAndTheTimeZone() throws {
        #expect(try next("cron(0 3 * * ? *)", after: "2026-12-07T21:46") == "2026-12-08T03:00")
        #expect(try next("cron(0/15 * * * ? *)", after: "2026-12-07T21:46") == "2026-12-07T22:00")
        #expect(try next("cron(0 9 ? * MON-FRI *)", after: "2026-12-11T10:00") == "2026-12-14T09:00")  // Fri → Mon
        #expect(try next("cron(30 2 L * ? *)", after: "2027-02-01T00:00") == "2027-02-28T02:30")
        #expect(try next("cron(0 9 ? * 2#1 *)", after: "2027-01-01T00:00") == "2027-01-04T09:00")  // first Monday
        #expect(try next("cron(0 9 ? * 6L *)", after: "2027-01-01T00:00") == "2027-01-29T09:00")  // last Friday
        #expect(try next("cron(0 0 1W * ? *)", after: "2027-05-01T00:00") == "2027-05-03T00:00")  // 1 May is a Saturday
        // 03:00 in Berlin is 02:00 UTC in winter.
        #expect(try next("cron(0 3 * * ? *)", after: "2026-12-07T21:46", zone: "Europe/Berlin") == "2026-12-08T02:00")
        #expect(try next("cron(0 3 * * ? 2020)", after: "2026-12-07T21:46") == "never")
        #expect(try next("at(2027-01-31T23:59:00)", after: "2026-12-07T21:46") == "2027-01-31T23:59")
        #expect(try next("rate(5 minutes)", after: "2026-12-07T21:46") == "never")
    }
}
