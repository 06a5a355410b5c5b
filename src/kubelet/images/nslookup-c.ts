// The `nslookup` of the built-in busybox image. Busybox 1.30+ (Debian's busybox-static is 1.35)
// has its own DNS client that skips the search list for any name with a dot, so in a pod
// `nslookup kubernetes.default` asks for "kubernetes.default." and fails, although
// `wget http://kubernetes.default` (libc's resolver, ndots:5) works. This small static program
// resolves through libc's res_search instead, honouring search, ndots and the nameserver of
// /etc/resolv.conf as every libc client in the pod does, and prints what busybox prints.
//
// Usage: nslookup [-type=A|AAAA|CNAME|MX|NS|PTR|SOA|SRV|TXT|ANY] NAME [SERVER]
// An IPv4 address as NAME asks for its PTR record. Exit status 1 when a query failed.

export const NSLOOKUP_C = String.raw`#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct { const char *name; int type; } TYPES[] = {
  {"a", ns_t_a}, {"aaaa", ns_t_aaaa}, {"cname", ns_t_cname}, {"mx", ns_t_mx}, {"ns", ns_t_ns},
  {"ptr", ns_t_ptr}, {"soa", ns_t_soa}, {"srv", ns_t_srv}, {"txt", ns_t_txt}, {"any", ns_t_any},
};

static const char *rcode_text(void) {
  switch (h_errno) {
    case HOST_NOT_FOUND: return "NXDOMAIN";
    case TRY_AGAIN: return "SERVFAIL";
    case NO_RECOVERY: return "REFUSED";
    default: return "SERVFAIL";
  }
}

/* Prints the answers of one reply; returns how many were printed. */
static int print_answers(const unsigned char *msg, int len) {
  ns_msg h;
  ns_rr rr;
  char buf[NS_MAXDNAME], addr[INET6_ADDRSTRLEN];
  int printed = 0;
  if (ns_initparse(msg, len, &h) < 0) return 0;
  for (int i = 0; i < ns_msg_count(h, ns_s_an); i++) {
    if (ns_parserr(&h, ns_s_an, i, &rr) < 0) break;
    const unsigned char *rd = ns_rr_rdata(rr);
    switch ((int)ns_rr_type(rr)) {
      case ns_t_a:
        if (ns_rr_rdlen(rr) != 4) break;
        inet_ntop(AF_INET, rd, addr, sizeof addr);
        printf("Name:\t%s\nAddress: %s\n", ns_rr_name(rr), addr);
        printed++;
        break;
      case ns_t_aaaa:
        if (ns_rr_rdlen(rr) != 16) break;
        inet_ntop(AF_INET6, rd, addr, sizeof addr);
        printf("Name:\t%s\nAddress: %s\n", ns_rr_name(rr), addr);
        printed++;
        break;
      case ns_t_cname:
      case ns_t_ptr:
      case ns_t_ns:
        if (ns_name_uncompress(ns_msg_base(h), ns_msg_end(h), rd, buf, sizeof buf) < 0) break;
        printf(ns_rr_type(rr) == ns_t_cname ? "%s\tcanonical name = %s\n" : ns_rr_type(rr) == ns_t_ptr ? "%s\tname = %s\n" : "%s\tnameserver = %s\n", ns_rr_name(rr), buf);
        printed++;
        break;
      case ns_t_mx:
        if (ns_rr_rdlen(rr) < 3 || ns_name_uncompress(ns_msg_base(h), ns_msg_end(h), rd + 2, buf, sizeof buf) < 0) break;
        printf("%s\tmail exchanger = %u %s\n", ns_rr_name(rr), (unsigned)ns_get16(rd), buf);
        printed++;
        break;
      case ns_t_srv:
        if (ns_rr_rdlen(rr) < 7 || ns_name_uncompress(ns_msg_base(h), ns_msg_end(h), rd + 6, buf, sizeof buf) < 0) break;
        printf("%s\tservice = %u %u %u %s\n", ns_rr_name(rr), (unsigned)ns_get16(rd), (unsigned)ns_get16(rd + 2), (unsigned)ns_get16(rd + 4), buf);
        printed++;
        break;
      case ns_t_txt: {
        printf("%s\ttext = ", ns_rr_name(rr));
        for (int o = 0; o < ns_rr_rdlen(rr);) {
          int n = rd[o++];
          if (o + n > ns_rr_rdlen(rr)) break;
          printf("\"%.*s\"%s", n, (const char *)rd + o, o + n < ns_rr_rdlen(rr) ? " " : "");
          o += n;
        }
        printf("\n");
        printed++;
        break;
      }
      case ns_t_soa: {
        char mail[NS_MAXDNAME];
        int n = ns_name_uncompress(ns_msg_base(h), ns_msg_end(h), rd, buf, sizeof buf);
        if (n < 0) break;
        int m = ns_name_uncompress(ns_msg_base(h), ns_msg_end(h), rd + n, mail, sizeof mail);
        if (m < 0 || n + m + 20 > ns_rr_rdlen(rr)) break;
        const unsigned char *t = rd + n + m;
        printf("%s\n\torigin = %s\n\tmail addr = %s\n\tserial = %lu\n\trefresh = %lu\n\tretry = %lu\n\texpire = %lu\n\tminimum = %lu\n",
               ns_rr_name(rr), buf, mail, ns_get32(t), ns_get32(t + 4), ns_get32(t + 8), ns_get32(t + 12), ns_get32(t + 16));
        printed++;
        break;
      }
    }
  }
  return printed;
}

int main(int argc, char **argv) {
  const char *name = NULL, *server = NULL;
  int only = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] == '-' && a[1]) {
      const char *v = strchr(a, '=');
      if (!v || (strncmp(a, "-type=", 6) && strncmp(a, "-query=", 7) && strncmp(a, "-q=", 3) && strncmp(a, "-t=", 3))) {
        fprintf(stderr, "Usage: nslookup [-type=QUERY_TYPE] HOST [DNS_SERVER]\n");
        return 1;
      }
      only = -2;
      for (size_t t = 0; t < sizeof TYPES / sizeof TYPES[0]; t++)
        if (!strcasecmp(v + 1, TYPES[t].name)) only = TYPES[t].type;
      if (only == -2) {
        fprintf(stderr, "nslookup: invalid query type \"%s\"\n", v + 1);
        return 1;
      }
    } else if (!name) {
      name = a;
    } else if (!server) {
      server = a;
    } else {
      fprintf(stderr, "Usage: nslookup [-type=QUERY_TYPE] HOST [DNS_SERVER]\n");
      return 1;
    }
  }
  if (!name) {
    fprintf(stderr, "Usage: nslookup [-type=QUERY_TYPE] HOST [DNS_SERVER]\n");
    return 1;
  }
  if (res_init() < 0) {
    fprintf(stderr, "nslookup: cannot read /etc/resolv.conf\n");
    return 1;
  }
  if (server) {
    struct in_addr ip;
    if (inet_pton(AF_INET, server, &ip) != 1) {
      fprintf(stderr, "nslookup: bad address '%s'\n", server);
      return 1;
    }
    _res.nsaddr_list[0].sin_family = AF_INET;
    _res.nsaddr_list[0].sin_addr = ip;
    _res.nsaddr_list[0].sin_port = htons(53);
    _res.nscount = 1;
  }
  char ns[INET_ADDRSTRLEN] = "?";
  inet_ntop(AF_INET, &_res.nsaddr_list[0].sin_addr, ns, sizeof ns);
  printf("Server:\t\t%s\nAddress:\t%s:%u\n\n", ns, ns, ntohs(_res.nsaddr_list[0].sin_port));

  /* An address: its PTR record, as nslookup does. */
  char rev[64];
  struct in_addr ip4;
  int types[2] = {ns_t_a, ns_t_aaaa}, ntypes = 2;
  const char *qname = name;
  if (inet_pton(AF_INET, name, &ip4) == 1) {
    const unsigned char *b = (const unsigned char *)&ip4;
    snprintf(rev, sizeof rev, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
    qname = rev;
    types[0] = ns_t_ptr;
    ntypes = 1;
  }
  if (only >= 0) {
    types[0] = only;
    ntypes = 1;
  }
  int failed = 0, printed = 0;
  static unsigned char answer[65536];
  for (int t = 0; t < ntypes; t++) {
    int n = res_search(qname, ns_c_in, types[t], answer, sizeof answer);
    if (n < 0) {
      /* No record of this type for a name that exists: not an error (as for AAAA of an IPv4-only name). */
      if (h_errno == NO_DATA) continue;
      printf("** server can't find %s: %s\n\n", qname, rcode_text());
      failed = 1;
      break;
    }
    printed += print_answers(answer, n);
  }
  if (!failed && !printed) printf("*** Can't find %s: No answer\n", qname);
  printf("\n");
  return failed;
}
`;
