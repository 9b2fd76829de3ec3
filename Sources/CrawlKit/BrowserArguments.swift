/// The browser's command line: the defaults (headless, and what a browser needs as root in a
/// container) with the job's `crawl.browserArgs` added. A job argument replaces a default of the
/// same switch (`--window-size=1920,1080` replaces `--window-size=1280,800`); `!--switch` removes
/// one (`!--headless` to watch the browser). Setting a user agent this way must not drop
/// `--headless`: without a display, Chrome would exit at once and no session would open.
extension CrawlOptions {
    /// The arguments the browser is started with (Chrome family or Firefox).
    public var effectiveBrowserArgs: [String] {
        let defaults = browserName.lowercased() == "firefox" ? Self.defaultFirefoxArgs : Self.defaultChromeArgs
        return Self.merge(defaults, browserArgs ?? [])
    }

    /// `base` with `extra` applied: each argument replaces those of its switch, `!--switch`
    /// removes them.
    public static func merge(_ base: [String], _ extra: [String]) -> [String] {
        var args = base
        for arg in extra {
            if arg.hasPrefix("!") {
                let name = switchName(String(arg.dropFirst()))
                args.removeAll { switchName($0) == name }
            } else {
                let name = switchName(arg)
                args.removeAll { switchName($0) == name }
                args.append(arg)
            }
        }
        return args
    }

    /// `--window-size` of `--window-size=1280,800`; `--headless` of `--headless=new`.
    static func switchName(_ arg: String) -> String {
        String(arg.prefix { $0 != "=" })
    }
}
