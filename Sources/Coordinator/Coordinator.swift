#if canImport(Glibc)
    import Glibc
#endif

public enum Coordinator {
    public static func main() {
        print("usage: crawlrun <command> [options]\n\ncommands: plan, run, crawl (coming)")
    }
}
