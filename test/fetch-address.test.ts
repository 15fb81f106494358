import { describe, expect, it } from "vitest";
import { classifyAddress, isPublicAddress, parseIPv6 } from "../src/federation/fetch.js";

describe("parseIPv6", () => {
  const hex = (b: Uint8Array | null) => (b ? Buffer.from(b).toString("hex") : null);

  it("expands the usual forms", () => {
    expect(hex(parseIPv6("::"))).toBe("00".repeat(16));
    expect(hex(parseIPv6("::1"))).toBe(`${"00".repeat(15)}01`);
    expect(hex(parseIPv6("1::"))).toBe(`0001${"00".repeat(14)}`);
    expect(hex(parseIPv6("2001:db8:0:0:1:0:0:1"))).toBe("20010db8000000000001000000000001");
    expect(hex(parseIPv6("2001:db8::1:0:0:1"))).toBe("20010db8000000000001000000000001");
    expect(hex(parseIPv6("::ffff:1.2.3.4"))).toBe("00000000000000000000ffff01020304");
    expect(hex(parseIPv6("::1.2.3.4"))).toBe("00000000000000000000000001020304");
    expect(hex(parseIPv6("1:2:3:4:5:6:1.2.3.4"))).toBe("00010002000300040005000601020304");
    expect(hex(parseIPv6("[fe80::1%eth0]"))).toBe(`fe80${"00".repeat(13)}01`);
  });

  it("rejects what is not IPv6", () => {
    for (const bad of [
      "",
      "1.2.3.4",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      "::ffff:1.2.3",
      "g::1",
      "example.com",
    ]) {
      expect(parseIPv6(bad), bad).toBeNull();
    }
  });
});

describe("classifyAddress", () => {
  const cases: Array<[string, string]> = [
    // IPv4
    ["8.8.8.8", "public"],
    ["1.1.1.1", "public"],
    ["93.184.215.14", "public"],
    ["0.0.0.0", "unspecified"],
    ["0.255.255.255", "unspecified"],
    ["10.0.0.1", "private"],
    ["10.255.255.255", "private"],
    ["11.0.0.0", "public"],
    ["100.63.255.255", "public"],
    ["100.64.0.0", "cgnat"],
    ["100.127.255.255", "cgnat"],
    ["100.128.0.0", "public"],
    ["126.255.255.255", "public"],
    ["127.0.0.1", "loopback"],
    ["127.0.0.2", "loopback"],
    ["127.255.255.254", "loopback"],
    ["169.254.169.254", "link-local"],
    ["169.255.0.1", "public"],
    ["172.15.255.255", "public"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.0", "public"],
    ["192.0.0.8", "reserved"],
    ["192.0.2.1", "documentation"],
    ["192.0.3.1", "public"],
    ["192.88.99.1", "reserved"],
    ["192.167.255.255", "public"],
    ["192.168.1.1", "private"],
    ["192.169.0.0", "public"],
    ["198.17.255.255", "public"],
    ["198.18.0.1", "benchmarking"],
    ["198.19.255.255", "benchmarking"],
    ["198.20.0.0", "public"],
    ["198.51.100.7", "documentation"],
    ["203.0.113.9", "documentation"],
    ["223.255.255.255", "public"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.255", "multicast"],
    ["240.0.0.1", "reserved"],
    ["255.255.255.254", "reserved"],
    ["255.255.255.255", "broadcast"],
    // IPv6
    ["2606:4700:4700::1111", "public"],
    ["2a00:1450:4001:82b::200e", "public"],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["[::1]", "loopback"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["febf:ffff::1", "link-local"],
    ["fec0::1", "site-local"],
    ["feff::1", "site-local"],
    ["fc00::1", "unique-local"],
    ["fd12:3456:789a::1", "unique-local"],
    ["ff02::1", "multicast"],
    ["ff0e::101", "multicast"],
    ["2001:db8::1", "documentation"],
    ["3fff::1", "documentation"],
    ["2001::1", "teredo"],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo"],
    ["2001:2::1", "reserved"],
    ["2001:10::1", "reserved"],
    ["2001:200::1", "public"],
    ["100::1", "reserved"],
    ["5f00::1", "reserved"],
    ["4000::1", "reserved"],
    ["::2", "reserved"],
    ["::127.0.0.1", "reserved"],
    ["::8.8.8.8", "reserved"],
    ["::ffff:0:8.8.8.8", "reserved"],
    // IPv4-mapped: the embedded address decides
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:10.1.2.3", "private"],
    ["::ffff:169.254.169.254", "link-local"],
    ["::ffff:0.0.0.0", "unspecified"],
    ["::ffff:8.8.8.8", "public"],
    ["0:0:0:0:0:ffff:c0a8:101", "private"],
    // NAT64
    ["64:ff9b::7f00:1", "loopback"],
    ["64:ff9b::10.0.0.1", "private"],
    ["64:ff9b::192.168.0.1", "private"],
    ["64:ff9b::8.8.8.8", "public"],
    ["64:ff9b:1::a9fe:a9fe", "link-local"],
    ["64:ff9b:1:abcd::8.8.8.8", "public"],
    ["64:ff9b:1::127.0.0.1", "loopback"],
    // 6to4
    ["2002:7f00:1::1", "loopback"],
    ["2002:a00:1::", "private"],
    ["2002:c0a8:101::1", "private"],
    ["2002:a9fe:a9fe::", "link-local"],
    ["2002:808:808::1", "public"],
    // not addresses
    ["", "invalid"],
    ["localhost", "invalid"],
    ["127.1", "invalid"],
    ["0x7f.0.0.1", "invalid"],
    ["2130706433", "invalid"],
    ["1.2.3.256", "invalid"],
  ];

  it.each(cases)("%s is %s", (ip, kind) => {
    expect(classifyAddress(ip)).toBe(kind);
    expect(isPublicAddress(ip)).toBe(kind === "public");
  });
});
