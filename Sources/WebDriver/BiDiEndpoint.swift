extension BiDiConnection {
    /// The session's BiDi endpoint as this client reaches the remote end: the path of
    /// `webSocketURL` on the host and port of the WebDriver base URL the session was made through.
    ///
    /// chromedriver answers with its own loopback address, which this leaves as it is. Selenium
    /// Grid answers with the node's advertised address (`ws://<node address>:4444/session/<id>/se/bidi`),
    /// which a client that reached the Grid by another name may not reach (SeleniumHQ/selenium
    /// #15375, #17788); the Grid serves the same path on the address the client already uses.
    /// An `https` base URL is left alone: this client has no TLS.
    public static func endpoint(_ webSocketURL: String, reachedThrough baseURL: String) -> String {
        guard let base = baseURL.firstRange(of: "http://"), base.lowerBound == baseURL.startIndex,
            let scheme = webSocketURL.firstRange(of: "ws://"), scheme.lowerBound == webSocketURL.startIndex
        else { return webSocketURL }
        let baseRest = baseURL[base.upperBound...]
        let authority = baseRest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let wsRest = webSocketURL[scheme.upperBound...]
        let path = wsRest.drop { $0 != "/" && $0 != "?" }
        guard !authority.isEmpty else { return webSocketURL }
        return "ws://" + authority + (path.isEmpty ? "/" : path)
    }
}
