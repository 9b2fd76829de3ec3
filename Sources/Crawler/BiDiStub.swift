// TEMPORARY: the agreed API of h-ws's WebDriver.BiDiConnection, until its branch is merged.
import JSONKit
import WebDriver

struct BiDiEvent: Sendable {
    let method: String
    let params: JSONValue
}

final class BiDiConnection: Sendable {
    static func open(_ webSocketURL: String, timeout: Duration) async throws(WebDriverError) -> BiDiConnection {
        throw WebDriverError(code: .unsupportedOperation, message: "no WebSocket client yet")
    }
    func command(_ method: String, _ params: JSONValue, timeout: Duration) async throws(WebDriverError) -> JSONValue {
        throw WebDriverError(code: .unsupportedOperation, message: "no WebSocket client yet")
    }
    var events: AsyncStream<BiDiEvent> { AsyncStream { $0.finish() } }
    func close() async {}
}
