import JSONKit
import ProcessKit
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `credential_process`: a program whose standard output is
/// `{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}` (Expiration,
/// ISO 8601, absent for long-term keys). The command is split as a POSIX shell would split it and
/// run without a shell, as botocore does; it is run again when the credentials near expiry.
/// Errors name the program only (its arguments may hold a secret) and never echo its output.
/// https://docs.aws.amazon.com/sdkref/latest/guide/feature-process-credentials.html
struct CredentialProcess: CredentialProvider {
    let command: String
    let profile: String
    var timeout: Duration = .seconds(60)

    func fetch() async throws(AWSError) -> AWSCredentials {
        let words = Self.split(command)
        guard let program = words.first else {
            throw AWSError(.credentials, "profile \(profile): credential_process is empty")
        }
        let what = "profile \(profile): credential_process \(program)"
        let stdout = Mutex<[String]>([])
        let stderr = Mutex<[String]>([])
        let child: ChildProcess
        do {
            child = try ChildProcess(
                program, arguments: Array(words.dropFirst()),
                stdout: .lines { line in stdout.withLock { $0.append(line) } },
                stderr: .lines { line in stderr.withLock { $0.append(line) } }, name: "credential_process")
        } catch {
            throw AWSError(.credentials, "\(what) cannot be started", cause: "\(error)")
        }
        guard let status = await child.wait(timeout: timeout) else {
            await child.terminate(grace: .seconds(1))
            throw AWSError(.credentials, "\(what) did not finish within \(timeout)")
        }
        await child.outputDrained()
        guard status == .exited(0) else {
            let message = stderr.withLock { $0.first { !$0.isEmpty } }.map { ": " + firstLine($0) } ?? ""
            throw AWSError(.credentials, "\(what) failed (\(status))\(message)")
        }
        let output = stdout.withLock { $0.joined(separator: "\n") }
        guard let json = try? JSONValue.decode(Data(output.utf8)) else {
            throw AWSError(.credentials, "\(what) printed no JSON object on its standard output")
        }
        guard json["Version"]?.intValue == 1 else {
            throw AWSError(
                .credentials,
                "\(what) printed Version \(json["Version"].map { String(decoding: $0.encoded(), as: UTF8.self) } ?? "none"): only 1 is known"
            )
        }
        return try parseTemporaryCredentials(json, source: "credential_process \(program) (profile \(profile))")
    }

    /// POSIX shell word splitting without expansion: blanks separate words; single quotes keep
    /// everything; double quotes keep all but `\"`, `\\`, `\$`, `` \` ``; a backslash outside
    /// quotes keeps the next character.
    static func split(_ command: String) -> [String] {
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for ch in command {
            if escaped {
                if quote == "\"" && !"\"\\$`".contains(ch) { word.append("\\") }
                word.append(ch)
                escaped = false
            } else if ch == "\\" && quote != "'" {
                escaped = true
                inWord = true
            } else if let q = quote {
                if ch == q { quote = nil } else { word.append(ch) }
            } else if ch == "'" || ch == "\"" {
                quote = ch
                inWord = true
            } else if ch == " " || ch == "\t" || ch == "\n" {
                if inWord { words.append(word) }
                word = ""
                inWord = false
            } else {
                word.append(ch)
                inWord = true
            }
        }
        if inWord { words.append(word) }
        return words
    }
}
