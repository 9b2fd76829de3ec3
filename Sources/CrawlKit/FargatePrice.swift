/// On-demand Fargate prices, us-east-1, Linux (ECS-NOTES.md, "Price"): per vCPU-hour and per
/// GB-hour, billed per second from the image pull to the task's stop with a one-minute minimum.
/// https://aws.amazon.com/fargate/pricing/
public enum FargatePrice {
    /// The price of one task-second for this task size.
    public static func perSecond(cpu: Int, memory: Int, architecture: String) -> Double {
        let arm = architecture == "ARM64"
        let vcpuHour = arm ? 0.03238 : 0.04048
        let gbHour = arm ? 0.00356 : 0.004445
        return (Double(cpu) / 1024 * vcpuHour + Double(memory) / 1024 * gbHour) / 3600
    }

    public static func perSecond(_ task: TaskSettings) -> Double {
        perSecond(cpu: task.cpu, memory: task.memory, architecture: task.architecture)
    }

    /// Seconds billed for a task that ran this long.
    public static func billed(_ seconds: Double) -> Double { max(60, seconds.rounded(.up)) }
}
