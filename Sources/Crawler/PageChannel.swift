import JSONKit
import WebDriver

/// Where a `TabLoad` runs the crawler's scripts and navigations: the session's current window over
/// classic WebDriver (the driver switched to the tab first), or one browsing context over
/// WebDriver BiDi (`BiDiTab`), addressed without any switch. The scripts are the same; only the
/// wire differs.
protocol PageChannel: Sendable {
    /// A script in the classic `execute/sync` form (`arguments`, `return`): its value as JSON.
    func execute(_ script: String, args: [JSONValue], timeout: Duration) async throws -> JSONValue
    /// A script in the classic `execute/async` form (its last argument is the callback).
    func executeAsync(_ script: String, args: [JSONValue], timeout: Duration) async throws -> JSONValue
    /// Sends the navigation without waiting for the page.
    func navigate(to url: String, timeout: Duration) async throws
    /// Classic WebDriver's session script timeout, which also bounds how long chromedriver holds
    /// a script for a navigation not yet answered; BiDi has none (a no-op there).
    func setScriptTimeout(milliseconds: Int, deadline: Duration) async throws
}

extension WebDriverSession: PageChannel {
    func execute(_ script: String, args: [JSONValue], timeout: Duration) async throws -> JSONValue {
        try await execute(script, args: args, timeout: Optional(timeout))
    }

    func executeAsync(_ script: String, args: [JSONValue], timeout: Duration) async throws -> JSONValue {
        try await executeAsync(script, args: args, timeout: Optional(timeout))
    }

    func navigate(to url: String, timeout: Duration) async throws {
        try await navigate(to: url, timeout: Optional(timeout))
    }

    func setScriptTimeout(milliseconds: Int, deadline: Duration) async throws {
        try await setTimeouts(script: milliseconds, deadline: deadline)
    }
}
