import AWS
import HTTP
import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

extension CredentialPeer {
    /// The SSO portal's GetRoleCredentials.
    func portal(_ r: HTTPRequest, query: [String: String]) -> HTTPResponse {
        func error(_ status: Int, _ type: String, _ message: String) -> HTTPResponse {
            json(status, ["message": .string(message)], headers: [("x-amzn-ErrorType", type)])
        }
        guard let account = query["account_id"], let role = query["role_name"] else {
            return error(400, "InvalidRequestException", "account_id and role_name are required")
        }
        guard let token = r.header("x-amz-sso_bearer_token"), state.withLock({ $0.ssoTokens.contains(token) }) else {
            return error(401, "UnauthorizedException", "Session token not found or invalid")
        }
        guard account == "111122223333" else { return error(404, "ResourceNotFoundException", "No access") }
        let c = issue(arn: "arn:aws:sts::\(account):assumed-role/AWSReservedSSO_\(role)_0123456789abcdef/user")
        return json(
            200,
            [
                "roleCredentials": [
                    "accessKeyId": .string(c.accessKeyId), "secretAccessKey": .string(c.secretAccessKey),
                    "sessionToken": .string(c.sessionToken), "expiration": .number(c.expiration * 1000),
                ]
            ])
    }

    /// SSO OIDC CreateToken, refresh-token grant: the refresh token is used up, a new one given.
    func createToken(_ r: HTTPRequest) -> HTTPResponse {
        func error(_ status: Int, _ type: String, _ code: String) -> HTTPResponse {
            json(
                status, ["error": .string(code), "error_description": .string(type)],
                headers: [("x-amzn-ErrorType", type)])
        }
        guard let body = r.body, let input = try? JSONValue.decode(body), let id = input["clientId"]?.stringValue,
            input["grantType"]?.stringValue == "refresh_token", let refresh = input["refreshToken"]?.stringValue
        else { return error(400, "InvalidRequestException", "invalid_request") }
        return state.withLock { s in
            guard s.oidcClients[id] != nil, s.oidcClients[id] == input["clientSecret"]?.stringValue else {
                return error(401, "InvalidClientException", "invalid_client")
            }
            guard s.refreshTokens.remove(refresh) != nil else {
                return error(400, "InvalidGrantException", "invalid_grant")
            }
            s.tokenRefreshes += 1
            let access = "sso-refreshed-\(s.tokenRefreshes)"
            let next = "refresh-\(s.tokenRefreshes + 1)"
            s.ssoTokens.insert(access)
            s.refreshTokens.insert(next)
            return json(
                200,
                [
                    "accessToken": .string(access), "expiresIn": 3600, "refreshToken": .string(next),
                    "tokenType": "Bearer",
                ])
        }
    }

    /// A call signed with an issued key: refused as AWS refuses it, else answered.
    func signedCall(_ r: HTTPRequest, path: String, query: [String: String]) -> HTTPResponse? {
        guard let auth = r.header("Authorization"), auth.hasPrefix("AWS4-HMAC-SHA256 ") else { return nil }
        let fields = Dictionary(
            auth.dropFirst(17).split(separator: ",").compactMap { part -> (String, String)? in
                let kv = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
            }, uniquingKeysWith: { a, _ in a })
        let scope = (fields["Credential"] ?? "").split(separator: "/").map(String.init)
        guard scope.count == 5, let signedHeaders = fields["SignedHeaders"], let signature = fields["Signature"],
            let amzDate = r.header("X-Amz-Date")
        else { return nil }
        let (keyId, region, service) = (scope[0], scope[2], scope[3])
        let s3 = service == "s3"
        let peerNow = now()
        let date = Self.httpDate(peerNow)

        func refuse(_ status: Int, _ code: String, _ message: String, extra: String = "") -> HTTPResponse {
            state.withLock { $0.calls.append(Call(accessKeyId: keyId, refused: code)) }
            let body =
                s3
                ? "<Error><Code>\(code)</Code><Message>\(message)</Message>\(extra)<RequestId>peer</RequestId></Error>"
                : "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>\(code)</Code><Message>\(message)</Message></Error><RequestId>peer</RequestId></ErrorResponse>"
            return HTTPResponse(
                status: status, headers: [("Content-Type", "text/xml"), ("Date", date)], body: Data(body.utf8))
        }

        // The signing time first: AWS refuses a request more than 15 minutes from its clock.
        guard let signed = Self.parseAmzDate(amzDate) else { return refuse(400, "IncompleteSignature", "bad date") }
        if abs(signed - peerNow) > 900 {
            if s3 {
                return refuse(
                    403, "RequestTimeTooSkewed",
                    "The difference between the request time and the current time is too large.",
                    extra:
                        "<RequestTime>\(amzDate)</RequestTime><ServerTime>\(CredentialPeer.iso8601(peerNow))</ServerTime><MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds>"
                )
            }
            let limit = Self.amzDate(signed < peerNow ? peerNow - 900 : peerNow + 900)
            let message =
                signed < peerNow
                ? "Signature expired: \(amzDate) is now earlier than \(limit) (\(Self.amzDate(peerNow)) - 15 min.)"
                : "Signature not yet current: \(amzDate) is still later than \(limit) (\(Self.amzDate(peerNow)) + 15 min.)"
            return refuse(403, "SignatureDoesNotMatch", message)
        }
        guard let issued = state.withLock({ $0.keys[keyId] }) else {
            return s3
                ? refuse(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
                : refuse(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
        }
        guard r.header("X-Amz-Security-Token") == issued.sessionToken else {
            return refuse(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
        }
        let (target, rawQuery) = {
            let parts = r.url.split(separator: "?", maxSplits: 1)
            return (String(parts.first ?? "/"), parts.count > 1 ? String(parts[1]) : "")
        }()
        let names = Set(signedHeaders.split(separator: ";").map(String.init))
        let headers = r.headers.filter { names.contains($0.name.lowercased()) }
        let payloadHash = r.header("X-Amz-Content-SHA256") ?? SHA256.hex(Array(r.body ?? Data()))
        let expected = SigV4.sign(
            SigV4.Request(method: r.method, path: target, query: rawQuery, headers: headers, payloadHash: payloadHash),
            accessKeyId: keyId, secretAccessKey: issued.secretAccessKey, region: region, service: service,
            amzDate: amzDate, s3: s3)
        guard expected.signature == signature else {
            return refuse(
                403, "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
            )
        }
        guard peerNow < issued.expiration else {
            return s3
                ? refuse(400, "ExpiredToken", "The provided token has expired.")
                : refuse(400, "ExpiredToken", "The security token included in the request is expired")
        }
        state.withLock { $0.calls.append(Call(accessKeyId: keyId, refused: nil)) }
        if s3 { return HTTPResponse(status: 200, headers: [("Date", date)], body: Data()) }
        let body = """
            <GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>\
            <Arn>\(issued.arn)</Arn><UserId>AROAPEER:peer</UserId><Account>123456789012</Account>\
            </GetCallerIdentityResult><ResponseMetadata><RequestId>peer</RequestId></ResponseMetadata></GetCallerIdentityResponse>
            """
        return HTTPResponse(
            status: 200, headers: [("Content-Type", "text/xml"), ("Date", date)], body: Data(body.utf8))
    }

    static func parseAmzDate(_ s: String) -> Double? {
        let d = Array(s.utf8)
        guard d.count == 16 else { return nil }
        func n(_ a: Int, _ b: Int) -> Int32? { Int32(String(decoding: d[a..<b], as: UTF8.self)) }
        guard let y = n(0, 4), let mo = n(4, 6), let da = n(6, 8), let h = n(9, 11), let mi = n(11, 13),
            let se = n(13, 15)
        else { return nil }
        var t = tm()
        (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec) = (y - 1900, mo - 1, da, h, mi, se)
        return Double(timegm(&t))
    }

    static func amzDate(_ seconds: Double) -> String {
        CredentialPeer.iso8601(seconds).replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "")
    }

    /// IMF-fixdate, the `Date` header.
    static func httpDate(_ seconds: Double) -> String {
        var t = time_t(seconds)
        var p = tm()
        gmtime_r(&t, &p)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func pad(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(days[Int(p.tm_wday)]), \(pad(p.tm_mday)) \(months[Int(p.tm_mon)]) \(p.tm_year + 1900) "
            + "\(pad(p.tm_hour)):\(pad(p.tm_min)):\(pad(p.tm_sec)) GMT"
    }
}
