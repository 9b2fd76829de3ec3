import CrawlKit
import JSONKit

extension PageVisitor {
    /// The W3C capabilities for a new session (WEBDRIVER-NOTES.md): headless Chrome flags that
    /// work as root in a container and without /dev/shm sizing (Fargate), prompts that never
    /// block ("dismiss" handles alerts without failing a command), bounded timeouts.
    ///
    /// With several tabs per session (`TabDriver`) the driver must not wait for page loads, or
    /// one tab's load would hold every other tab's commands: the strategy is "none" and the
    /// crawler applies `pageLoadStrategy` itself. The script timeout is then short, because it
    /// also bounds how long chromedriver holds a command for a navigation that has not answered
    /// yet (it waits for the new document before running a script, up to that timeout).
    public static func capabilities(_ o: CrawlOptions, tabs: Bool? = nil) -> JSONValue {
        let browser = o.browserName.lowercased()
        let tabbed = tabs ?? true
        let script = tabbed ? TabPolling.scriptTimeoutMilliseconds : (max(o.scriptTimeout, o.waitForTimeout + 2) * 1000)
        var caps: [String: JSONValue] = [
            "browserName": .string(o.browserName),
            "pageLoadStrategy": .string(tabbed ? "none" : o.pageLoadStrategy),
            "unhandledPromptBehavior": "dismiss",
            "acceptInsecureCerts": .bool(o.acceptInsecureCerts),
            "timeouts": [
                "pageLoad": .number((o.pageLoadTimeout * 1000).rounded()),
                "script": .number(script.rounded()),
                "implicit": 0,
            ],
        ]
        if let proxy = o.proxy?.capability {
            // W3C manual proxy: chromedriver turns it into --proxy-server and --proxy-bypass-list.
            var p: [String: JSONValue] = ["proxyType": "manual"]
            for (k, v) in proxy { p[k] = .string(v) }
            if let noProxy = o.proxy?.noProxy, !noProxy.isEmpty { p["noProxy"] = .array(noProxy.map { .string($0) }) }
            caps["proxy"] = .object(p)
        }
        if browser == "firefox" {
            var options: [String: JSONValue] = [
                "args": .array(o.effectiveBrowserArgs.map { .string($0) })
            ]
            if let ua = o.userAgent { options["prefs"] = ["general.useragent.override": .string(ua)] }
            caps["moz:firefoxOptions"] = .object(options)
        } else if o.isChromeFamily {
            let key = browser == "microsoftedge" ? "ms:edgeOptions" : "goog:chromeOptions"
            var args = o.effectiveBrowserArgs
            if let ua = o.userAgent {
                // Added to the arguments, never replacing them; the job's own wins over browserArgs'.
                args.removeAll { $0.hasPrefix("--user-agent=") }
                args.append("--user-agent=\(ua)")
            }
            var prefs: [String: JSONValue] = [:]
            for resource in o.block {
                switch blocking(resource) {
                case .argument(let a): if !args.contains(a) { args.append(a) }
                case .preference(let key, let value): prefs[key] = value
                case nil: break
                }
            }
            args = o.withHostResolverRules(args)
            var options: [String: JSONValue] = ["args": .array(args.map { .string($0) })]
            if !prefs.isEmpty { options["prefs"] = .object(prefs) }
            caps[key] = .object(options)
        }
        // WebDriver BiDi (`crawl.webdriver`): the session's WebSocket, in `webSocketUrl` of the
        // matched capabilities when the sidecar offers it (https://w3c.github.io/webdriver-bidi/#establishing).
        if o.webdriver != .classic { caps["webSocketUrl"] = true }
        for (k, v) in o.capabilities ?? [:] { caps[k] = v }
        return .object(caps)
    }

    enum Blocking: Equatable {
        case argument(String)
        case preference(String, JSONValue)
    }

    /// How Chrome is told not to load a kind of resource, measured with chromedriver 156 (the
    /// fixture server counts what is fetched):
    /// - images: the content setting (what chrome://settings/content/images sets) — no image
    ///   request is made, CSS backgrounds included;
    /// - fonts: `--disable-remote-fonts` — `@font-face` files are not fetched;
    /// - media: nothing stops `<video>`/`<audio>` fetching their first bytes (metadata) short of
    ///   CDP; `--autoplay-policy=user-gesture-required` keeps them from playing, which is where a
    ///   page's media costs CPU (decoding);
    /// - stylesheets: no preference or switch; refused when the job is checked.
    static func blocking(_ resource: BlockedResource) -> Blocking? {
        switch resource {
        case .images: return .preference("profile.managed_default_content_settings.images", 2)
        case .fonts: return .argument("--disable-remote-fonts")
        case .media: return .argument("--autoplay-policy=user-gesture-required")
        case .stylesheets: return nil
        }
    }
}

/// Timing of the tabbed mode's readiness checks (`TabLoad`).
enum TabPolling {
    /// The session's script timeout: how long a check may be held for a tab whose navigation has
    /// not answered yet. Short, so that one slow server holds the other tabs only briefly.
    static let scriptTimeoutMilliseconds = 300.0
    /// How long one check waits in the page for the load to finish before answering "loading".
    static let loadWaitMilliseconds = 0.0
}
