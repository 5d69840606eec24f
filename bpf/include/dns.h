/* dns.h: DNS wire-format constants (RFC 1035, RFC 6891) the program reads
 * and writes. */
#ifndef XDPDNS_DNS_H
#define XDPDNS_DNS_H

#define DNS_HDR_LEN 12
#define DNS_QR      0x8000
#define DNS_OPCODE  0x7800
#define DNS_TC      0x0200
#define DNS_RD      0x0100
#define DNS_CD      0x0010
#define TYPE_OPT    41
#define TYPE_DS     43
#define TYPE_RRSIG  46
#define TYPE_TKEY   249
#define TYPE_ANY    255
#define CLASS_IN    1
#define CLASS_CH    3
#define EDNS_DO     0x8000
#define OPT_NSID    3
#define OPT_COOKIE  10
#define OPT_RR_LEN  11
#define MIN_UDP     512

#endif
