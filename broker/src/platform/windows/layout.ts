/**
 * Byte offsets of the Windows structures the network backend walks, for 64-bit Windows (x64 and ARM64 share
 * the LLP64 layout: 8-byte pointers, 4-byte ULONG, natural alignment). Member names are the SDK's, so a
 * reader can put each entry next to the header line it comes from.
 *
 * Sources: iptypes.h (IP_ADAPTER_*), ws2def.h / ws2ipdef.h (SOCKET_ADDRESS, SOCKADDR_IN, SOCKADDR_IN6,
 * SOCKADDR_INET), netioapi.h (IP_ADDRESS_PREFIX, MIB_IPFORWARD_ROW2, MIB_IPFORWARD_TABLE2). The numbers were
 * derived by hand from the header text (C alignment rules) and are checked in test/broker/windows-layout.test.ts
 * against koffi's C layout of the same declarations, so a wrong entry here fails a test on Linux.
 */
export const X64 = {
  pointerSize: 8,

  /** ws2def.h: `typedef struct _SOCKET_ADDRESS { LPSOCKADDR lpSockaddr; INT iSockaddrLength; }` */
  SOCKET_ADDRESS: { lpSockaddr: 0, iSockaddrLength: 8, size: 16 },

  /** ws2def.h: `SOCKADDR_IN { ADDRESS_FAMILY sin_family; USHORT sin_port; IN_ADDR sin_addr; CHAR sin_zero[8]; }` */
  SOCKADDR_IN: { sin_family: 0, sin_port: 2, sin_addr: 4, size: 16 },

  /**
   * ws2ipdef.h: `SOCKADDR_IN6 { ADDRESS_FAMILY sin6_family; USHORT sin6_port; ULONG sin6_flowinfo;
   * IN6_ADDR sin6_addr; union { ULONG sin6_scope_id; SCOPE_ID sin6_scope_struct; }; }`
   */
  SOCKADDR_IN6: { sin6_family: 0, sin6_port: 2, sin6_flowinfo: 4, sin6_addr: 8, sin6_scope_id: 24, size: 28 },

  /** ws2ipdef.h: `union SOCKADDR_INET { SOCKADDR_IN Ipv4; SOCKADDR_IN6 Ipv6; ADDRESS_FAMILY si_family; }` (align 4) */
  SOCKADDR_INET: { si_family: 0, size: 28 },

  /**
   * iptypes.h `_IP_ADAPTER_ADDRESSES_LH`. The leading `union { ULONGLONG Alignment; struct { ULONG Length;
   * IF_INDEX IfIndex; }; }` makes the struct 8-aligned; `NetworkGuid` (GUID, align 4) leaves TunnelType at 272
   * and pads to 280 before `Dhcpv6Server`; `Dhcpv6ClientDuid[130]` ends at 426, padded to 428.
   */
  IP_ADAPTER_ADDRESSES_LH: {
    Length: 0,
    IfIndex: 4,
    Next: 8,
    AdapterName: 16,
    FirstUnicastAddress: 24,
    FirstAnycastAddress: 32,
    FirstMulticastAddress: 40,
    FirstDnsServerAddress: 48,
    DnsSuffix: 56,
    Description: 64,
    FriendlyName: 72,
    PhysicalAddress: 80,
    PhysicalAddressLength: 88,
    Flags: 92,
    Mtu: 96,
    IfType: 100,
    OperStatus: 104,
    Ipv6IfIndex: 108,
    ZoneIndices: 112,
    FirstPrefix: 176,
    TransmitLinkSpeed: 184,
    ReceiveLinkSpeed: 192,
    FirstWinsServerAddress: 200,
    FirstGatewayAddress: 208,
    Ipv4Metric: 216,
    Ipv6Metric: 220,
    Luid: 224,
    Dhcpv4Server: 232,
    CompartmentId: 248,
    NetworkGuid: 252,
    ConnectionType: 268,
    TunnelType: 272,
    Dhcpv6Server: 280,
    Dhcpv6ClientDuid: 296,
    Dhcpv6ClientDuidLength: 428,
    Dhcpv6Iaid: 432,
    FirstDnsSuffix: 440,
    size: 448,
  },

  /**
   * iptypes.h `_IP_ADAPTER_UNICAST_ADDRESS_LH { union { ULONGLONG Alignment; struct { ULONG Length; DWORD Flags; };
   * }; Next; SOCKET_ADDRESS Address; IP_PREFIX_ORIGIN PrefixOrigin; IP_SUFFIX_ORIGIN SuffixOrigin;
   * IP_DAD_STATE DadState; ULONG ValidLifetime; ULONG PreferredLifetime; ULONG LeaseLifetime;
   * UINT8 OnLinkPrefixLength; }`
   */
  IP_ADAPTER_UNICAST_ADDRESS_LH: {
    Length: 0,
    Flags: 4,
    Next: 8,
    Address: 16,
    PrefixOrigin: 32,
    SuffixOrigin: 36,
    DadState: 40,
    ValidLifetime: 44,
    PreferredLifetime: 48,
    LeaseLifetime: 52,
    OnLinkPrefixLength: 56,
    size: 64,
  },

  /**
   * iptypes.h `_IP_ADAPTER_GATEWAY_ADDRESS_LH { union { ULONGLONG Alignment; struct { ULONG Length;
   * DWORD Reserved; }; }; Next; SOCKET_ADDRESS Address; }`
   */
  IP_ADAPTER_GATEWAY_ADDRESS_LH: { Length: 0, Reserved: 4, Next: 8, Address: 16, size: 32 },

  /** netioapi.h `_IP_ADDRESS_PREFIX { SOCKADDR_INET Prefix; UINT8 PrefixLength; }` (28 + 1, padded to 4) */
  IP_ADDRESS_PREFIX: { Prefix: 0, PrefixLength: 28, size: 32 },

  /**
   * netioapi.h `_MIB_IPFORWARD_ROW2`. NET_LUID (ULONG64) makes the row 8-aligned; the UCHAR SitePrefixLength
   * at 72 is followed by 3 bytes of padding.
   */
  MIB_IPFORWARD_ROW2: {
    InterfaceLuid: 0,
    InterfaceIndex: 8,
    DestinationPrefix: 12,
    NextHop: 44,
    SitePrefixLength: 72,
    ValidLifetime: 76,
    PreferredLifetime: 80,
    Metric: 84,
    Protocol: 88,
    Loopback: 92,
    AutoconfigureAddress: 93,
    Publish: 94,
    Immortal: 95,
    Age: 96,
    Origin: 100,
    size: 104,
  },

  /** netioapi.h `_MIB_IPFORWARD_TABLE2 { ULONG NumEntries; MIB_IPFORWARD_ROW2 Table[ANY_SIZE]; }`; rows are 8-aligned. */
  MIB_IPFORWARD_TABLE2: { NumEntries: 0, Table: 8 },
} as const;

/** ws2def.h address families; AF_INET6 is 23 on Windows (10 on Linux). */
export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 23;
