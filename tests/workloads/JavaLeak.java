// SPDX-License-Identifier: GPL-2.0-or-later
// JavaLeak: a HashMap that only grows, as a Java service's cache that never forgets:
// 1 MiB of byte[4096] values a second, kept for good, for SECONDS (default 600).
// tests/integration/test_agents.py compiles and runs it; leakwatchd reads its heap from
// outside, through the HotSpot performance data that jstat reads (docs/agents.md).
import java.util.HashMap;
import java.util.Map;

public class JavaLeak {
    public static void main(String[] args) throws InterruptedException {
        long seconds = args.length > 0 ? Long.parseLong(args[0]) : 600;
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        Map<Long, byte[]> cache = new HashMap<>();
        long key = 0;
        while (System.nanoTime() < end) {
            // 64 values every 1/4 s: 1 MiB a second, in steps small beside a window.
            for (int i = 0; i < 64; i++)
                cache.put(key++, new byte[4096]);
            Thread.sleep(250);
        }
        System.out.println(cache.size());
    }
}
