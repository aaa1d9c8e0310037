//! The network path Kerberos needs, as facts read from EC2 and a verdict drawn from them.
//!
//! Facts: the cluster's security groups (`DescribeDBClusters` `VpcSecurityGroups`) and
//! subnets (its DB subnet group), the directory's security group, subnets and domain
//! controller addresses (`DescribeDirectories`), the rules of those groups, the network ACLs
//! and route tables of both VPCs, and, when the VPCs differ, the peering connections and
//! Transit Gateway attachments between them.
//!
//! The verdict ([`verdict`]) is pure: it walks each hop Kerberos needs —
//! cluster → domain controllers on the ports AWS Managed Microsoft AD uses, client → cluster
//! on the DB port and client → domain controllers on DNS and Kerberos when the client's
//! security group or address is known — through security group egress and ingress (stateful),
//! network ACLs both ways (stateless: the return traffic to ephemeral ports 1024-65535 too)
//! and, between VPCs, the routes and the peering or Transit Gateway they use. Each gap names
//! the missing or blocking rule and the `aws ec2` command that fixes it.
//!
//! Limits: prefix-list sources are not expanded (a rule that rests on one is "not verified"),
//! a Transit Gateway's own route tables are not read, and nothing beyond the VPCs (on-premises
//! firewalls, the client's own routes) can be seen.

use crate::findings::Severity;
use ipnet::Ipv4Net;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The ephemeral ports return traffic goes to, as AWS's network ACL guidance states them.
pub const EPHEMERAL: (u16, u16) = (1024, 65535);

/// An IP protocol a path needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Proto {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
}

impl Proto {
    /// The name the AWS CLI takes.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }

    /// The IANA number EC2 reports in network ACL entries.
    pub fn number(self) -> &'static str {
        match self {
            Proto::Tcp => "6",
            Proto::Udp => "17",
        }
    }

    /// Whether an EC2 protocol string (`-1`, `tcp`, `6`, `udp`, `17`, `all`) covers this one.
    fn matched_by(self, ec2: &str) -> bool {
        let ec2 = ec2.trim().to_ascii_lowercase();
        ec2 == "-1" || ec2 == "all" || ec2 == self.name() || ec2 == self.number()
    }
}

/// A port range a path needs on one protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Need {
    /// The protocol.
    pub protocol: Proto,
    /// The first port.
    pub from: u16,
    /// The last port.
    pub to: u16,
    /// What uses it.
    pub service: &'static str,
    /// Whether logins fail without it (else it is in AWS's list but not on the login path).
    pub required: bool,
}

impl Need {
    const fn new(
        protocol: Proto,
        from: u16,
        to: u16,
        service: &'static str,
        required: bool,
    ) -> Self {
        Need {
            protocol,
            from,
            to,
            service,
            required,
        }
    }

    /// `tcp 88`, `tcp 3268-3269`.
    pub fn label(&self) -> String {
        format!("{} {}", self.protocol.name(), ports(self.from, self.to))
    }
}

fn ports(from: u16, to: u16) -> String {
    if from == to {
        from.to_string()
    } else {
        format!("{from}-{to}")
    }
}

use Proto::{Tcp, Udp};

/// What the cluster's instances need toward the domain controllers: the ports of the
/// security group AWS creates for the directory's controllers (`UpdateSecurityGroupForDirectoryControllers`).
/// DNS, Kerberos, kpasswd, LDAP and SMB are required; the rest of AWS's list is advisory.
pub const CLUSTER_TO_DIRECTORY: [Need; 16] = [
    Need::new(Tcp, 53, 53, "DNS", true),
    Need::new(Udp, 53, 53, "DNS", true),
    Need::new(Tcp, 88, 88, "Kerberos", true),
    Need::new(Udp, 88, 88, "Kerberos", true),
    Need::new(Tcp, 389, 389, "LDAP", true),
    Need::new(Udp, 389, 389, "LDAP", true),
    Need::new(Tcp, 445, 445, "SMB", true),
    Need::new(Tcp, 464, 464, "Kerberos password change", true),
    Need::new(Udp, 464, 464, "Kerberos password change", true),
    Need::new(Udp, 123, 123, "NTP", false),
    Need::new(Udp, 138, 138, "NetBIOS datagram", false),
    Need::new(Udp, 445, 445, "SMB", false),
    Need::new(Tcp, 135, 135, "RPC endpoint mapper", false),
    Need::new(Tcp, 636, 636, "LDAPS", false),
    Need::new(Tcp, 3268, 3269, "global catalog", false),
    Need::new(Tcp, 1024, 65535, "RPC dynamic ports", false),
];

/// What a client needs toward the domain controllers: DNS and Kerberos (kpasswd advisory).
pub const CLIENT_TO_DIRECTORY: [Need; 6] = [
    Need::new(Tcp, 53, 53, "DNS", true),
    Need::new(Udp, 53, 53, "DNS", true),
    Need::new(Tcp, 88, 88, "Kerberos", true),
    Need::new(Udp, 88, 88, "Kerberos", true),
    Need::new(Tcp, 464, 464, "Kerberos password change", false),
    Need::new(Udp, 464, 464, "Kerberos password change", false),
];

/// Where the client connects from, as the user gave it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClientSpec {
    /// The client's security group (`sg-…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_group: Option<String>,
    /// The client's addresses (`10.0.0.0/24`, or one address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
}

impl ClientSpec {
    /// Whether anything is known about the client.
    pub fn is_known(&self) -> bool {
        self.security_group.is_some() || self.cidr.is_some()
    }

    /// Checks and normalises the user's input: a security group id `sg-` + hex, an IPv4 CIDR
    /// or address. The error names the bad value and the expected form.
    pub fn parse(security_group: Option<&str>, cidr: Option<&str>) -> Result<Self, String> {
        let security_group = match security_group.map(str::trim) {
            None => None,
            Some(sg) => {
                let hex = sg.strip_prefix("sg-").unwrap_or("");
                if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(format!(
                        "`{sg}` is not a security group id: expected sg- and hex digits, e.g. sg-0123456789abcdef0"
                    ));
                }
                Some(sg.to_ascii_lowercase())
            }
        };
        let cidr = match cidr.map(str::trim) {
            None => None,
            Some(c) => Some(
                parse_net(c)
                    .ok_or_else(|| {
                        format!(
                            "`{c}` is not an IPv4 CIDR or address: expected e.g. 10.0.0.0/24 or 10.0.0.15"
                        )
                    })?
                    .to_string(),
            ),
        };
        Ok(ClientSpec {
            security_group,
            cidr,
        })
    }
}

/// An IPv4 CIDR or a bare address (a /32), normalised to its network.
pub fn parse_net(s: &str) -> Option<Ipv4Net> {
    let s = s.trim();
    if let Ok(n) = s.parse::<Ipv4Net>() {
        return Some(n.trunc());
    }
    s.parse::<Ipv4Addr>().ok().map(Ipv4Net::from)
}

/// One security group rule, in one direction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SgRule {
    /// `-1` (all), `tcp`, `udp`, `icmp`, or a protocol number.
    pub protocol: String,
    /// The first port (absent for all protocols).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i32>,
    /// The last port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i32>,
    /// IPv4 CIDRs it admits (ingress) or reaches (egress).
    pub cidrs: Vec<String>,
    /// Security groups it admits or reaches.
    pub groups: Vec<String>,
    /// Prefix lists (not expanded).
    pub prefix_lists: Vec<String>,
}

impl SgRule {
    fn covers(&self, need: &Need) -> bool {
        if !need.protocol.matched_by(&self.protocol) {
            return false;
        }
        let all = self.protocol.trim() == "-1" || self.protocol.eq_ignore_ascii_case("all");
        match (self.from_port, self.to_port) {
            _ if all => true,
            // -1..-1 on tcp/udp is not something EC2 reports; treat a missing range as all.
            (None, None) | (Some(-1), Some(-1)) => true,
            (Some(f), Some(t)) => f <= i32::from(need.from) && i32::from(need.to) <= t,
            _ => false,
        }
    }

    fn covers_net(&self, net: &Ipv4Net) -> bool {
        self.cidrs
            .iter()
            .filter_map(|c| parse_net(c))
            .any(|c| c.contains(net))
    }
}

/// A security group and its rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SecurityGroup {
    /// `sg-…`.
    pub id: String,
    /// Its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its VPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// Inbound rules.
    pub ingress: Vec<SgRule>,
    /// Outbound rules.
    pub egress: Vec<SgRule>,
}

/// A subnet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Subnet {
    /// `subnet-…`.
    pub id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Its IPv4 CIDR.
    pub cidr: String,
}

/// A network ACL entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AclEntry {
    /// Lower numbers are evaluated first; 32767 is the catch-all.
    pub rule_number: i32,
    /// Outbound (else inbound).
    pub egress: bool,
    /// `-1` or a protocol number (`6`, `17`).
    pub protocol: String,
    /// Allow (else deny).
    pub allow: bool,
    /// The IPv4 CIDR (absent for IPv6 entries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    /// The first port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i32>,
    /// The last port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i32>,
}

/// A network ACL and the subnets associated with it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NetworkAcl {
    /// `acl-…`.
    pub id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// The VPC's default ACL (it serves subnets without an association).
    pub is_default: bool,
    /// Subnets explicitly associated.
    pub subnet_ids: Vec<String>,
    /// Its entries.
    pub entries: Vec<AclEntry>,
}

/// A route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Route {
    /// The IPv4 destination CIDR.
    pub destination: String,
    /// `local`, `pcx-…`, `tgw-…`, `igw-…`, `nat-…`, … (the first target EC2 names).
    pub target: String,
    /// `active`, or `blackhole` when its target is gone.
    pub state: String,
}

/// A route table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RouteTable {
    /// `rtb-…`.
    pub id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// The VPC's main table (it serves subnets without an association).
    pub main: bool,
    /// Subnets explicitly associated.
    pub subnet_ids: Vec<String>,
    /// Its routes.
    pub routes: Vec<Route>,
}

/// A VPC peering connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Peering {
    /// `pcx-…`.
    pub id: String,
    /// `active`, `pending-acceptance`, `rejected`, …
    pub status: String,
    /// The requester's VPC.
    pub requester_vpc: String,
    /// The accepter's VPC.
    pub accepter_vpc: String,
}

impl Peering {
    fn joins(&self, a: &str, b: &str) -> bool {
        (self.requester_vpc == a && self.accepter_vpc == b)
            || (self.requester_vpc == b && self.accepter_vpc == a)
    }
}

/// A Transit Gateway attachment of a VPC.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TgwAttachment {
    /// `tgw-attach-…`.
    pub id: String,
    /// `tgw-…`.
    pub transit_gateway_id: String,
    /// The attached VPC.
    pub vpc_id: String,
    /// `available`, `pending`, `deleted`, …
    pub state: String,
}

/// A lookup that failed, so part of the path could not be verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// What was being looked up, e.g. `the cluster's DB subnet group`.
    pub what: String,
    /// The IAM action of the call.
    pub action: String,
    /// The error's stable identifier, e.g. `aws.access_denied`.
    pub error: String,
    /// The error in words.
    pub message: String,
    /// What to do about it.
    pub fix: String,
    /// The caller's ARN, when access was denied and it could be told.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
}

/// Everything the verdict is drawn from. Collections that could not be read are `None`
/// (the gap says why); the verdict does not judge what it could not see.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NetworkFacts {
    /// The DB port.
    pub port: u16,
    /// The cluster's VPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_vpc: Option<String>,
    /// The subnets of the cluster's DB subnet group.
    pub cluster_subnets: Vec<Subnet>,
    /// The cluster's security groups.
    pub cluster_security_groups: Vec<String>,
    /// The directory's VPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory_vpc: Option<String>,
    /// The directory's subnets.
    pub directory_subnets: Vec<Subnet>,
    /// The domain controllers' security group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory_security_group: Option<String>,
    /// The domain controllers' addresses (the directory's DNS addresses).
    pub domain_controllers: Vec<String>,
    /// The client, as given.
    pub client: ClientSpec,
    /// The security groups read.
    pub security_groups: Vec<SecurityGroup>,
    /// The network ACLs of the VPCs (`None`: not read).
    pub network_acls: Option<Vec<NetworkAcl>>,
    /// The route tables of the VPCs (`None`: not read).
    pub route_tables: Option<Vec<RouteTable>>,
    /// Peering connections of the VPCs (`None`: not read or not needed).
    pub peerings: Option<Vec<Peering>>,
    /// Transit Gateway attachments of the VPCs (`None`: not read or not needed).
    pub tgw_attachments: Option<Vec<TgwAttachment>>,
    /// Lookups that failed.
    pub gaps: Vec<Gap>,
}

/// The layer a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// An outbound security group rule.
    SecurityGroupEgress,
    /// An inbound security group rule.
    SecurityGroupIngress,
    /// A network ACL entry.
    NetworkAcl,
    /// A route.
    Route,
    /// VPC peering or Transit Gateway.
    Connection,
    /// Facts that are missing.
    Facts,
}

/// One gap in a path: what blocks it and the fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Error (logins fail) or warning (advisory port, or not verifiable).
    pub severity: Severity,
    /// A stable identifier, e.g. `network.sg_ingress_missing`.
    pub id: String,
    /// The hop, e.g. `cluster -> domain controllers`.
    pub hop: String,
    /// The layer.
    pub layer: Layer,
    /// The object at fault: a security group, network ACL or route table id.
    pub resource: String,
    /// The ports it concerns, e.g. `tcp 88`.
    pub ports: Vec<String>,
    /// The missing or blocking rule, in words.
    pub message: String,
    /// The commands that fix it.
    pub fix: Vec<String>,
}

/// The verdict on one hop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    /// `cluster -> domain controllers`, `client -> cluster`, …
    pub hop: String,
    /// Whether nothing blocks its required ports (warnings allowed).
    pub open: bool,
    /// The ports it needs.
    pub ports: Vec<String>,
}

/// The verdict on every hop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The hops checked.
    pub hops: Vec<Hop>,
    /// What blocks them, merged per resource.
    pub problems: Vec<Problem>,
}

/// The facts and the verdict, as the report carries them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkPath {
    /// The verdict.
    pub verdict: Verdict,
    /// The facts.
    pub facts: NetworkFacts,
}

// ---------------------------------------------------------------------------------------
// The verdict.

/// A place traffic leaves from or arrives at.
#[derive(Debug, Clone)]
struct Place {
    /// The address range (a subnet, a domain controller /32, the client's CIDR).
    net: Ipv4Net,
    /// Its subnet, when inside a known VPC subnet.
    subnet: Option<String>,
    /// The subnet's CIDR (a route's destination), else `net`.
    route_net: Ipv4Net,
    vpc: Option<String>,
}

#[derive(Debug, Clone)]
struct Side {
    /// `cluster`, `domain controllers`, `client`.
    name: &'static str,
    groups: Vec<String>,
    places: Vec<Place>,
}

impl Side {
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.groups.is_empty() {
            parts.push(format!("security group {}", self.groups.join(", ")));
        }
        if !self.places.is_empty() {
            parts.push(
                self.places
                    .iter()
                    .map(|p| p.net.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
        if parts.is_empty() {
            self.name.to_owned()
        } else {
            format!("the {} ({})", self.name, parts.join("; "))
        }
    }
}

/// One finding before merging: a need blocked at a resource.
struct Miss {
    severity: Severity,
    id: &'static str,
    hop: String,
    layer: Layer,
    resource: String,
    /// Merge key beyond (layer, resource, id): direction and peer.
    key: String,
    port: String,
    /// The message with `{ports}` where the merged port list goes.
    message: String,
    fix: Vec<String>,
}

fn sg<'a>(facts: &'a NetworkFacts, id: &str) -> Option<&'a SecurityGroup> {
    facts.security_groups.iter().find(|g| g.id == id)
}

fn subnet_place(s: &Subnet) -> Option<Place> {
    let net = parse_net(&s.cidr)?;
    Some(Place {
        net,
        subnet: Some(s.id.clone()),
        route_net: net,
        vpc: Some(s.vpc_id.clone()),
    })
}

fn cluster_side(f: &NetworkFacts) -> Side {
    Side {
        name: "cluster",
        groups: f.cluster_security_groups.clone(),
        places: f.cluster_subnets.iter().filter_map(subnet_place).collect(),
    }
}

fn directory_side(f: &NetworkFacts) -> Side {
    let subnets: Vec<Place> = f
        .directory_subnets
        .iter()
        .filter_map(subnet_place)
        .collect();
    let mut places: Vec<Place> = f
        .domain_controllers
        .iter()
        .filter_map(|ip| ip.parse::<Ipv4Addr>().ok())
        .map(|ip| {
            let net = Ipv4Net::from(ip);
            let home = subnets.iter().find(|s| s.net.contains(&ip));
            Place {
                net,
                subnet: home.and_then(|s| s.subnet.clone()),
                route_net: home.map_or(net, |s| s.net),
                vpc: home
                    .and_then(|s| s.vpc.clone())
                    .or_else(|| f.directory_vpc.clone()),
            }
        })
        .collect();
    if places.is_empty() {
        places = subnets;
    }
    Side {
        name: "domain controllers",
        groups: f.directory_security_group.iter().cloned().collect(),
        places,
    }
}

fn client_side(f: &NetworkFacts) -> Side {
    Side {
        name: "client",
        groups: f.client.security_group.iter().cloned().collect(),
        places: f
            .client
            .cidr
            .as_deref()
            .and_then(parse_net)
            .map(|net| Place {
                net,
                subnet: None,
                route_net: net,
                vpc: None,
            })
            .into_iter()
            .collect(),
    }
}

fn severity(need: &Need) -> Severity {
    if need.required {
        Severity::Error
    } else {
        Severity::Warning
    }
}

/// The verdict on the facts: every hop, every gap, each with its fix.
pub fn verdict(f: &NetworkFacts) -> Verdict {
    let cluster = cluster_side(f);
    let directory = directory_side(f);
    let client = client_side(f);
    let mut misses = Vec::new();
    let mut hops = Vec::new();

    let have_directory = !directory.groups.is_empty() || !directory.places.is_empty();
    if have_directory {
        hops.push(check_hop(
            f,
            &cluster,
            &directory,
            &CLUSTER_TO_DIRECTORY,
            true,
            &mut misses,
        ));
        directory_admitted(f, &cluster, &directory, &mut misses);
    }
    if f.client.is_known() {
        let db = [Need::new(Tcp, f.port, f.port, "PostgreSQL", true)];
        hops.push(check_hop(f, &client, &cluster, &db, false, &mut misses));
        if have_directory {
            hops.push(check_hop(
                f,
                &client,
                &directory,
                &CLIENT_TO_DIRECTORY,
                false,
                &mut misses,
            ));
        }
    }
    if f.cluster_security_groups.is_empty() {
        misses.push(Miss {
            severity: Severity::Warning,
            id: "network.no_security_groups",
            hop: "cluster".into(),
            layer: Layer::Facts,
            resource: "cluster".into(),
            key: String::new(),
            port: String::new(),
            message: "RDS reports no VPC security group for the cluster, so its rules could not be checked".into(),
            fix: vec!["aws rds describe-db-clusters --query 'DBClusters[].VpcSecurityGroups'".into()],
        });
    }
    let problems = merge(misses);
    for h in &mut hops {
        h.open = !problems
            .iter()
            .any(|p| p.hop == h.hop && p.severity == Severity::Error);
    }
    Verdict { hops, problems }
}

/// Checks one hop on every layer; `routes` also follows the routes between VPCs.
fn check_hop(
    f: &NetworkFacts,
    from: &Side,
    to: &Side,
    needs: &[Need],
    routes: bool,
    misses: &mut Vec<Miss>,
) -> Hop {
    let hop = format!("{} -> {}", from.name, to.name);
    for need in needs {
        sg_egress(f, &hop, from, to, need, misses);
        sg_ingress(f, &hop, from, to, need, misses);
        if let Some(acls) = &f.network_acls {
            nacl(f, acls, &hop, from, to, need, misses);
        }
    }
    if routes {
        route_check(f, &hop, from, to, misses);
    }
    Hop {
        hop,
        open: true,
        ports: needs.iter().map(Need::label).collect(),
    }
}

/// The security groups of `side`, or `None` when one of them is unknown (not read).
fn groups_of<'a>(f: &'a NetworkFacts, side: &Side) -> Option<Vec<&'a SecurityGroup>> {
    side.groups.iter().map(|id| sg(f, id)).collect()
}

fn sg_egress(
    f: &NetworkFacts,
    hop: &str,
    from: &Side,
    to: &Side,
    need: &Need,
    misses: &mut Vec<Miss>,
) {
    if from.groups.is_empty() {
        return;
    }
    let Some(groups) = groups_of(f, from) else {
        return;
    };
    let rules: Vec<&SgRule> = groups.iter().flat_map(|g| g.egress.iter()).collect();
    if admits(&rules, to, need) {
        return;
    }
    let via_prefix_list = via_prefix_list(&rules, need);
    let group = &from.groups[0];
    let target = match to.groups.first() {
        Some(g) => format!("UserIdGroupPairs=[{{GroupId={g}}}]"),
        None => format!(
            "IpRanges=[{}]",
            to.places
                .iter()
                .map(|p| format!("{{CidrIp={}}}", p.net))
                .collect::<Vec<_>>()
                .join(",")
        ),
    };
    misses.push(Miss {
        severity: if via_prefix_list {
            Severity::Warning
        } else {
            severity(need)
        },
        id: if via_prefix_list {
            "network.sg_prefix_list"
        } else {
            "network.sg_egress_missing"
        },
        hop: hop.into(),
        layer: Layer::SecurityGroupEgress,
        resource: from.groups.join(", "),
        key: to.describe(),
        port: need.label(),
        message: if via_prefix_list {
            format!(
                "outbound {{ports}} from {} rests on a prefix list, which is not expanded: not verified",
                from.describe()
            )
        } else {
            format!(
                "no outbound rule of {} allows {{ports}} to {}",
                from.describe(),
                to.describe()
            )
        },
        fix: vec![format!(
            "aws ec2 authorize-security-group-egress --group-id {group} --ip-permissions IpProtocol={},FromPort={},ToPort={},{target}",
            need.protocol.name(),
            need.from,
            need.to
        )],
    });
}

fn sg_ingress(
    f: &NetworkFacts,
    hop: &str,
    from: &Side,
    to: &Side,
    need: &Need,
    misses: &mut Vec<Miss>,
) {
    if to.groups.is_empty() || (from.groups.is_empty() && from.places.is_empty()) {
        return;
    }
    let Some(groups) = groups_of(f, to) else {
        return;
    };
    let rules: Vec<&SgRule> = groups.iter().flat_map(|g| g.ingress.iter()).collect();
    if admits(&rules, from, need) {
        return;
    }
    let via_prefix_list = via_prefix_list(&rules, need);
    let group = &to.groups[0];
    let port = ports(need.from, need.to);
    let fix = match from.groups.first() {
        Some(src) => vec![format!(
            "aws ec2 authorize-security-group-ingress --group-id {group} --protocol {} --port {port} --source-group {src}",
            need.protocol.name()
        )],
        None => from
            .places
            .iter()
            .map(|p| {
                format!(
                    "aws ec2 authorize-security-group-ingress --group-id {group} --protocol {} --port {port} --cidr {}",
                    need.protocol.name(),
                    p.net
                )
            })
            .collect(),
    };
    misses.push(Miss {
        severity: if via_prefix_list {
            Severity::Warning
        } else {
            severity(need)
        },
        id: if via_prefix_list {
            "network.sg_prefix_list"
        } else {
            "network.sg_ingress_missing"
        },
        hop: hop.into(),
        layer: Layer::SecurityGroupIngress,
        resource: to.groups.join(", "),
        key: from.describe(),
        port: need.label(),
        message: if via_prefix_list {
            format!(
                "inbound {{ports}} to {} rests on a prefix list, which is not expanded: not verified",
                to.describe()
            )
        } else {
            format!(
                "no inbound rule of {} admits {{ports}} from {}",
                to.describe(),
                from.describe()
            )
        },
        fix,
    });
}

/// The Aurora User Guide asks that the DB security group admit the directory's security
/// group (it names no ports): advisory.
fn directory_admitted(f: &NetworkFacts, cluster: &Side, directory: &Side, misses: &mut Vec<Miss>) {
    let Some(dir_sg) = directory.groups.first() else {
        return;
    };
    if cluster.groups.is_empty() {
        return;
    }
    let Some(groups) = groups_of(f, cluster) else {
        return;
    };
    let admitted = groups.iter().flat_map(|g| g.ingress.iter()).any(|r| {
        r.groups.contains(dir_sg)
            || (!directory.places.is_empty()
                && directory.places.iter().all(|p| r.covers_net(&p.net)))
    });
    if !admitted {
        misses.push(Miss {
            severity: Severity::Warning,
            id: "network.db_sg_admits_directory",
            hop: "domain controllers -> cluster".into(),
            layer: Layer::SecurityGroupIngress,
            resource: cluster.groups.join(", "),
            key: String::new(),
            port: String::new(),
            message: format!(
                "the cluster's security group {} admits nothing from the directory's security group {dir_sg}; the Aurora User Guide asks that it does",
                cluster.groups.join(", ")
            ),
            fix: vec![format!(
                "aws ec2 authorize-security-group-ingress --group-id {} --protocol all --source-group {dir_sg}",
                cluster.groups[0]
            )],
        });
    }
}

/// The network ACL that governs a subnet: its explicit association, else its VPC's default.
fn acl_for<'a>(acls: &'a [NetworkAcl], subnet: &str, vpc: Option<&str>) -> Option<&'a NetworkAcl> {
    acls.iter()
        .find(|a| a.subnet_ids.iter().any(|s| s == subnet))
        .or_else(|| {
            acls.iter()
                .find(|a| a.is_default && Some(a.vpc_id.as_str()) == vpc)
        })
}

/// How a network ACL treats traffic: the first entry (lowest number) that matches decides.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AclDecision {
    Allow,
    /// Denied by this entry (`None`: no entry matched, the implicit deny).
    Deny(Option<i32>),
}

fn acl_decide(
    acl: &NetworkAcl,
    egress: bool,
    proto: Proto,
    range: (u16, u16),
    peer: &Ipv4Net,
) -> AclDecision {
    let mut entries: Vec<&AclEntry> = acl.entries.iter().filter(|e| e.egress == egress).collect();
    entries.sort_by_key(|e| e.rule_number);
    for e in entries {
        if !proto.matched_by(&e.protocol) {
            continue;
        }
        let Some(cidr) = e.cidr.as_deref().and_then(parse_net) else {
            continue;
        };
        let all_ports = e.protocol.trim() == "-1";
        let (ef, et) = match (e.from_port, e.to_port) {
            _ if all_ports => (0, 65535),
            (Some(a), Some(b)) => (a, b),
            _ => (0, 65535),
        };
        let (nf, nt) = (i32::from(range.0), i32::from(range.1));
        let full = cidr.contains(peer) && ef <= nf && nt <= et;
        let overlaps = (cidr.contains(peer) || peer.contains(&cidr)) && ef <= nt && nf <= et;
        // 32767 is the `*` entry every ACL ends with: the implicit deny, not a rule to remove.
        let deny = || AclDecision::Deny((e.rule_number < 32767).then_some(e.rule_number));
        if full {
            return if e.allow { AclDecision::Allow } else { deny() };
        }
        if overlaps && !e.allow {
            // Part of the traffic meets this deny first.
            return deny();
        }
    }
    AclDecision::Deny(None)
}

/// A free rule number below `below` for an allow entry.
fn free_rule_number(acl: &NetworkAcl, egress: bool, below: Option<i32>) -> i32 {
    let used = |n: i32| {
        acl.entries
            .iter()
            .any(|e| e.egress == egress && e.rule_number == n)
    };
    match below {
        Some(b) => (1..b).rev().find(|&n| !used(n)).unwrap_or(1),
        None => (1..=327)
            .map(|k| k * 100)
            .find(|&n| !used(n))
            .unwrap_or(32766),
    }
}

#[allow(clippy::too_many_arguments)]
fn acl_miss(
    acl: &NetworkAcl,
    hop: &str,
    subnet: &str,
    egress: bool,
    proto: Proto,
    range: (u16, u16),
    peer: &Ipv4Net,
    decision: AclDecision,
    sev: Severity,
    why: &str,
) -> Miss {
    let AclDecision::Deny(rule) = decision else {
        unreachable!("only denials are misses")
    };
    let dir = if egress { "outbound" } else { "inbound" };
    let to_from = if egress { "to" } else { "from" };
    let by = match rule {
        Some(n) => format!("rule {n} denies it"),
        None => "no entry allows it (the final * rule denies)".into(),
    };
    let number = free_rule_number(acl, egress, rule);
    let mut fix = vec![format!(
        "aws ec2 create-network-acl-entry --network-acl-id {} {} --rule-number {number} --protocol {} --port-range From={},To={} --cidr-block {peer} --rule-action allow",
        acl.id,
        if egress { "--egress" } else { "--ingress" },
        proto.name(),
        range.0,
        range.1
    )];
    if let Some(n) = rule {
        fix.push(format!(
            "or remove the deny: aws ec2 delete-network-acl-entry --network-acl-id {} {} --rule-number {n}",
            acl.id,
            if egress { "--egress" } else { "--ingress" }
        ));
    }
    Miss {
        severity: sev,
        id: "network.nacl_blocks",
        hop: hop.into(),
        layer: Layer::NetworkAcl,
        resource: acl.id.clone(),
        key: format!(
            "{dir} {peer} {} {why}",
            rule.map_or("*".into(), |n| n.to_string())
        ),
        port: format!("{} {}", proto.name(), ports(range.0, range.1)),
        message: format!(
            "network ACL {} (subnet {subnet}) blocks {dir} {{ports}} {to_from} {peer}{why}: {by}",
            acl.id
        ),
        fix,
    }
}

fn nacl(
    f: &NetworkFacts,
    acls: &[NetworkAcl],
    hop: &str,
    from: &Side,
    to: &Side,
    need: &Need,
    misses: &mut Vec<Miss>,
) {
    let _ = f;
    let sev = severity(need);
    let wanted = (need.from, need.to);
    for fp in &from.places {
        for tp in &to.places {
            // Traffic inside one subnet never crosses its network ACL.
            if fp.subnet.is_some() && fp.subnet == tp.subnet {
                continue;
            }
            if let Some(s) = &fp.subnet
                && let Some(acl) = acl_for(acls, s, fp.vpc.as_deref())
            {
                let d = acl_decide(acl, true, need.protocol, wanted, &tp.net);
                if d != AclDecision::Allow {
                    misses.push(acl_miss(
                        acl,
                        hop,
                        s,
                        true,
                        need.protocol,
                        wanted,
                        &tp.net,
                        d,
                        sev,
                        "",
                    ));
                }
                let d = acl_decide(acl, false, need.protocol, EPHEMERAL, &tp.net);
                if d != AclDecision::Allow {
                    misses.push(acl_miss(
                        acl,
                        hop,
                        s,
                        false,
                        need.protocol,
                        EPHEMERAL,
                        &tp.net,
                        d,
                        sev,
                        " (the replies: network ACLs are stateless)",
                    ));
                }
            }
            if let Some(s) = &tp.subnet
                && let Some(acl) = acl_for(acls, s, tp.vpc.as_deref())
            {
                let d = acl_decide(acl, false, need.protocol, wanted, &fp.net);
                if d != AclDecision::Allow {
                    misses.push(acl_miss(
                        acl,
                        hop,
                        s,
                        false,
                        need.protocol,
                        wanted,
                        &fp.net,
                        d,
                        sev,
                        "",
                    ));
                }
                let d = acl_decide(acl, true, need.protocol, EPHEMERAL, &fp.net);
                if d != AclDecision::Allow {
                    misses.push(acl_miss(
                        acl,
                        hop,
                        s,
                        true,
                        need.protocol,
                        EPHEMERAL,
                        &fp.net,
                        d,
                        sev,
                        " (the replies: network ACLs are stateless)",
                    ));
                }
            }
        }
    }
}

/// The route table of a subnet: its explicit association, else its VPC's main table.
fn table_for<'a>(
    tables: &'a [RouteTable],
    subnet: &str,
    vpc: Option<&str>,
) -> Option<&'a RouteTable> {
    tables
        .iter()
        .find(|t| t.subnet_ids.iter().any(|s| s == subnet))
        .or_else(|| {
            tables
                .iter()
                .find(|t| t.main && Some(t.vpc_id.as_str()) == vpc)
        })
}

/// The route traffic to `dest` takes: the longest prefix that contains it.
fn best_route<'a>(table: &'a RouteTable, dest: &Ipv4Net) -> Option<&'a Route> {
    table
        .routes
        .iter()
        .filter_map(|r| parse_net(&r.destination).map(|n| (n, r)))
        .filter(|(n, _)| n.contains(dest))
        .max_by_key(|(n, _)| n.prefix_len())
        .map(|(_, r)| r)
}

fn route_check(f: &NetworkFacts, hop: &str, from: &Side, to: &Side, misses: &mut Vec<Miss>) {
    let (Some(a), Some(b)) = (f.cluster_vpc.as_deref(), f.directory_vpc.as_deref()) else {
        return;
    };
    if a == b {
        return;
    }
    let Some(tables) = &f.route_tables else {
        return;
    };
    let peerings = f.peerings.as_deref().unwrap_or(&[]);
    let attachments = f.tgw_attachments.as_deref().unwrap_or(&[]);
    let active_peering = peerings
        .iter()
        .find(|p| p.joins(a, b) && p.status == "active");
    let shared_tgw = attachments
        .iter()
        .filter(|t| t.vpc_id == a && t.state == "available")
        .find_map(|ta| {
            attachments
                .iter()
                .find(|tb| {
                    tb.vpc_id == b
                        && tb.state == "available"
                        && tb.transit_gateway_id == ta.transit_gateway_id
                })
                .map(|_| ta.transit_gateway_id.as_str())
        });
    if active_peering.is_none() && shared_tgw.is_none() {
        if f.peerings.is_none() && f.tgw_attachments.is_none() {
            return; // Not read: the gaps say why.
        }
        let pending = peerings
            .iter()
            .find(|p| p.joins(a, b))
            .map(|p| format!(" (peering {} is {})", p.id, p.status))
            .unwrap_or_default();
        misses.push(Miss {
            severity: Severity::Error,
            id: "network.vpcs_not_connected",
            hop: hop.into(),
            layer: Layer::Connection,
            resource: format!("{a}, {b}"),
            key: String::new(),
            port: String::new(),
            message: format!(
                "the cluster's VPC {a} and the directory's VPC {b} are joined by no active VPC peering and no Transit Gateway both are attached to{pending}"
            ),
            fix: vec![
                format!("aws ec2 create-vpc-peering-connection --vpc-id {a} --peer-vpc-id {b}"),
                "aws ec2 accept-vpc-peering-connection --vpc-peering-connection-id <pcx-id>".into(),
                "then add routes both ways: aws ec2 create-route --route-table-id <rtb> --destination-cidr-block <peer CIDR> --vpc-peering-connection-id <pcx-id>".into(),
            ],
        });
        return;
    }
    let target_flag = match (active_peering, shared_tgw) {
        (Some(p), _) => format!("--vpc-peering-connection-id {}", p.id),
        (None, Some(t)) => format!("--transit-gateway-id {t}"),
        (None, None) => unreachable!("checked above"),
    };
    let mut one_way = |src: &Place, dst: &Place| {
        let Some(s) = &src.subnet else { return };
        let Some(table) = table_for(tables, s, src.vpc.as_deref()) else {
            return;
        };
        let route = best_route(table, &dst.net);
        let good = |r: &Route| {
            r.state == "active"
                && ((r.target.starts_with("pcx-")
                    && peerings
                        .iter()
                        .any(|p| p.id == r.target && p.joins(a, b) && p.status == "active"))
                    || (r.target.starts_with("tgw-") && Some(r.target.as_str()) == shared_tgw))
        };
        let (why, sev) = match route {
            Some(r) if good(r) => return,
            None => (format!("has no route to {}", dst.net), Severity::Error),
            Some(r) if r.state != "active" => (
                format!(
                    "routes {} to {} which is {}",
                    r.destination, r.target, r.state
                ),
                Severity::Error,
            ),
            Some(r)
                if r.target.starts_with("pcx-")
                    || r.target.starts_with("tgw-")
                    || r.target == "local"
                    || r.target.starts_with("igw-")
                    || r.target.starts_with("nat-") =>
            {
                (
                    format!(
                        "routes {} through {}, which does not join {a} and {b}",
                        r.destination, r.target
                    ),
                    Severity::Error,
                )
            }
            Some(r) => (
                format!(
                    "routes {} through {}, which this check cannot follow",
                    r.destination, r.target
                ),
                Severity::Warning,
            ),
        };
        misses.push(Miss {
            severity: sev,
            id: "network.no_route",
            hop: hop.into(),
            layer: Layer::Route,
            resource: table.id.clone(),
            key: dst.route_net.to_string(),
            port: String::new(),
            message: format!(
                "route table {} (subnet {s}, VPC {}) {why}",
                table.id,
                src.vpc.as_deref().unwrap_or("?")
            ),
            fix: vec![format!(
                "aws ec2 create-route --route-table-id {} --destination-cidr-block {} {target_flag}",
                table.id, dst.route_net
            )],
        });
    };
    for fp in &from.places {
        for tp in &to.places {
            one_way(fp, tp);
            one_way(tp, fp);
        }
    }
}

/// Merges the misses per resource, direction and peer: one problem names all its ports.
fn merge(misses: Vec<Miss>) -> Vec<Problem> {
    let mut order: Vec<(String, Layer, String, &'static str, String)> = Vec::new();
    let mut groups: BTreeMap<(String, Layer, String, &'static str, String), Vec<Miss>> =
        BTreeMap::new();
    for m in misses {
        let k = (
            m.hop.clone(),
            m.layer,
            m.resource.clone(),
            m.id,
            m.key.clone(),
        );
        if !groups.contains_key(&k) {
            order.push(k.clone());
        }
        groups.entry(k).or_default().push(m);
    }
    order
        .into_iter()
        .filter_map(|k| groups.remove(&k))
        .map(|ms| {
            let severity = ms
                .iter()
                .map(|m| m.severity)
                .max()
                .unwrap_or(Severity::Warning);
            let mut ports: Vec<String> = Vec::new();
            let mut fix: Vec<String> = Vec::new();
            for m in &ms {
                if !m.port.is_empty() && !ports.contains(&m.port) {
                    ports.push(m.port.clone());
                }
                for x in &m.fix {
                    if !fix.contains(x) {
                        fix.push(x.clone());
                    }
                }
            }
            let first = &ms[0];
            Problem {
                severity,
                id: first.id.to_owned(),
                hop: first.hop.clone(),
                layer: first.layer,
                resource: first.resource.clone(),
                message: first.message.replace("{ports}", &ports.join(", ")),
                ports,
                fix,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// The findings of `aws.network`.

/// The `aws.network` findings of a verified path: the VPC relation, the lookups that failed,
/// each problem with its fix, and each hop found open.
pub(crate) fn findings(
    f: &mut Vec<crate::findings::Finding>,
    relation: &crate::report::NetworkRelation,
    cluster: &ClusterFacts,
    shared: bool,
    path: &NetworkPath,
) {
    use crate::findings::{CheckId, Finding};
    use crate::report::NetworkRelation;
    let subject = format!("cluster {}", cluster.identifier);
    match relation {
        NetworkRelation::SameVpc { vpc_id } => f.push(Finding::new(
            CheckId::Network,
            Severity::Ok,
            "network.same_vpc",
            &subject,
            format!("the cluster and the directory share VPC {vpc_id}"),
            None,
        )),
        NetworkRelation::DifferentVpcs {
            cluster_vpc,
            directory_vpc,
        } => f.push(Finding::new(
            CheckId::Network,
            Severity::Info,
            "network.different_vpcs",
            &subject,
            format!(
                "the cluster is in VPC {cluster_vpc}, the directory in VPC {directory_vpc}{}: VPC peering or a Transit Gateway with routes both ways must join them (checked below)",
                if shared { " (another account's)" } else { "" }
            ),
            None,
        )),
        NetworkRelation::Unknown { reason } => f.push(Finding::new(
            CheckId::Network,
            Severity::Warning,
            "network.unknown",
            &subject,
            format!("the network relation cannot be told: {reason}"),
            None,
        )),
    }
    for g in &path.facts.gaps {
        f.push(Finding::new(
            CheckId::Network,
            Severity::Warning,
            "network.lookup_failed",
            "network",
            format!(
                "{} could not be read, so that part of the path is not verified: {}",
                g.what, g.message
            ),
            Some(g.fix.clone()),
        ));
    }
    for p in &path.verdict.problems {
        let what = match p.layer {
            Layer::SecurityGroupEgress | Layer::SecurityGroupIngress => "security group",
            Layer::NetworkAcl => "network ACL",
            Layer::Route => "route table",
            Layer::Connection => "VPCs",
            Layer::Facts => "",
        };
        f.push(Finding::new(
            CheckId::Network,
            p.severity,
            &p.id,
            if what.is_empty() {
                p.resource.clone()
            } else {
                format!("{what} {}", p.resource)
            },
            format!("{}: {}", p.hop, p.message),
            Some(p.fix.join("; ")),
        ));
    }
    for h in &path.verdict.hops {
        let clean = !path.verdict.problems.iter().any(|p| p.hop == h.hop);
        if h.open {
            f.push(Finding::new(
                CheckId::Network,
                Severity::Ok,
                "network.path_open",
                &subject,
                format!(
                    "{}: {} allow {}",
                    h.hop,
                    if clean {
                        "security groups, network ACLs and routes"
                    } else {
                        "the required rules"
                    },
                    h.ports.join(", ")
                ),
                None,
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Reading the facts from EC2.

use crate::cluster::ClusterFacts;
use crate::directory::DirectoryFacts;
use crate::error::{Action, Error};
use crate::lookup::{Lookup, call};
use aws_sdk_ec2::types::Filter;

impl Gap {
    fn new(what: &str, action: Action, e: &Error) -> Self {
        Gap {
            what: what.to_owned(),
            action: action.iam_action().to_owned(),
            error: e.id().to_owned(),
            message: e.message(),
            fix: e.fix(),
            caller: e.caller().map(str::to_owned),
        }
    }
}

/// Runs one EC2 (or RDS) call under the timeout and turns its failure into an [`Error`]
/// that names the caller when access was denied.
async fn ask<T, E, R>(
    lk: &Lookup,
    action: Action,
    fut: impl std::future::Future<Output = Result<T, aws_sdk_ec2::error::SdkError<E, R>>>,
) -> Result<T, Error>
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + 'static,
{
    let r = match call(lk, action, fut).await {
        Ok(Ok(t)) => return Ok(t),
        Ok(Err(e)) => Error::from_sdk(action, lk.profile(), e).with_timeout(lk.timeout),
        Err(e) => e,
    };
    Err(lk.name_caller(r).await)
}

fn filter(name: &str, values: &[String]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.to_vec()))
        .build()
}

fn rule(p: &aws_sdk_ec2::types::IpPermission) -> SgRule {
    SgRule {
        protocol: p.ip_protocol().unwrap_or("-1").to_owned(),
        from_port: p.from_port(),
        to_port: p.to_port(),
        cidrs: p
            .ip_ranges()
            .iter()
            .filter_map(|r| r.cidr_ip().map(str::to_owned))
            .collect(),
        groups: p
            .user_id_group_pairs()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_owned))
            .collect(),
        prefix_lists: p
            .prefix_list_ids()
            .iter()
            .filter_map(|l| l.prefix_list_id().map(str::to_owned))
            .collect(),
    }
}

fn route_target(r: &aws_sdk_ec2::types::Route) -> String {
    [
        r.vpc_peering_connection_id(),
        r.transit_gateway_id(),
        r.gateway_id(),
        r.nat_gateway_id(),
        r.network_interface_id(),
        r.instance_id(),
        r.local_gateway_id(),
        r.carrier_gateway_id(),
        r.egress_only_internet_gateway_id(),
        r.core_network_arn(),
    ]
    .into_iter()
    .flatten()
    .next()
    .unwrap_or("unknown")
    .to_owned()
}

/// Reads the network facts. `None` when the inspector has no EC2 client.
pub(crate) async fn gather(
    lk: &Lookup,
    cluster: &ClusterFacts,
    directory: Option<&DirectoryFacts>,
    client: &ClientSpec,
) -> Option<NetworkFacts> {
    let ec2 = lk.ec2.as_ref()?;
    let mut f = NetworkFacts {
        port: cluster
            .port
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(5432),
        cluster_security_groups: cluster.vpc_security_groups.clone(),
        client: client.clone(),
        ..NetworkFacts::default()
    };
    // The cluster's subnets, from its DB subnet group.
    let mut cluster_subnet_ids: Vec<String> = Vec::new();
    if let Some(group) = &cluster.db_subnet_group {
        let action = Action::DescribeDbSubnetGroups;
        match ask(
            lk,
            action,
            lk.rds
                .describe_db_subnet_groups()
                .db_subnet_group_name(group)
                .send(),
        )
        .await
        {
            Ok(out) => {
                if let Some(g) = out.db_subnet_groups().first() {
                    f.cluster_vpc = g.vpc_id().map(str::to_owned);
                    cluster_subnet_ids = g
                        .subnets()
                        .iter()
                        .filter_map(|s| s.subnet_identifier().map(str::to_owned))
                        .collect();
                }
            }
            Err(e) => f
                .gaps
                .push(Gap::new("the cluster's DB subnet group", action, &e)),
        }
    }
    if let Some(d) = directory {
        f.directory_vpc = d.vpc_id.clone();
        f.directory_security_group = d.security_group_id.clone();
        f.domain_controllers = d.dns_ips.clone();
    }
    let directory_subnet_ids: Vec<String> =
        directory.map(|d| d.subnet_ids.clone()).unwrap_or_default();
    // Subnets: their CIDRs place the cluster and the domain controllers. Two calls, so
    // that a directory subnet in another account (a shared directory) loses only its own.
    let mut dir_only: Vec<String> = directory_subnet_ids
        .iter()
        .filter(|s| !cluster_subnet_ids.contains(s))
        .cloned()
        .collect();
    dir_only.sort();
    dir_only.dedup();
    for (ids, what) in [
        (cluster_subnet_ids.clone(), "the cluster's subnets"),
        (dir_only, "the directory's subnets"),
    ] {
        if ids.is_empty() {
            continue;
        }
        let action = Action::DescribeSubnets;
        match ask(
            lk,
            action,
            ec2.describe_subnets().set_subnet_ids(Some(ids)).send(),
        )
        .await
        {
            Ok(out) => {
                for s in out.subnets() {
                    let subnet = Subnet {
                        id: s.subnet_id().unwrap_or("").to_owned(),
                        vpc_id: s.vpc_id().unwrap_or("").to_owned(),
                        cidr: s.cidr_block().unwrap_or("").to_owned(),
                    };
                    if cluster_subnet_ids.contains(&subnet.id) {
                        f.cluster_subnets.push(subnet.clone());
                    }
                    if directory_subnet_ids.contains(&subnet.id) {
                        f.directory_subnets.push(subnet);
                    }
                }
            }
            Err(e) => f.gaps.push(Gap::new(what, action, &e)),
        }
    }
    if f.cluster_vpc.is_none() {
        f.cluster_vpc = f.cluster_subnets.first().map(|s| s.vpc_id.clone());
    }
    // Security groups, one call each so that a missing one is named.
    let mut groups: Vec<(String, &str)> = f
        .cluster_security_groups
        .iter()
        .map(|g| (g.clone(), "the cluster's"))
        .collect();
    if let Some(g) = &f.directory_security_group {
        groups.push((g.clone(), "the directory's"));
    }
    if let Some(g) = &client.security_group {
        groups.push((g.clone(), "the client's"));
    }
    for (id, whose) in groups {
        if f.security_groups.iter().any(|g| g.id == id) {
            continue;
        }
        let action = Action::DescribeSecurityGroups;
        match ask(lk, action, ec2.describe_security_groups().group_ids(&id).send()).await {
            Ok(out) => match out.security_groups().first() {
                Some(g) => f.security_groups.push(SecurityGroup {
                    id: g.group_id().unwrap_or(&id).to_owned(),
                    name: g.group_name().map(str::to_owned),
                    vpc_id: g.vpc_id().map(str::to_owned),
                    ingress: g.ip_permissions().iter().map(rule).collect(),
                    egress: g.ip_permissions_egress().iter().map(rule).collect(),
                }),
                None => f.gaps.push(Gap {
                    what: format!("{whose} security group {id}"),
                    action: action.iam_action().into(),
                    error: "aws.not_found".into(),
                    message: format!("EC2 knows no security group {id} in this account and region"),
                    fix: "check the id (aws ec2 describe-security-groups); a directory shared from another account keeps its security group there".into(),
                    caller: None,
                }),
            },
            Err(e) => f.gaps.push(Gap::new(&format!("{whose} security group {id}"), action, &e)),
        }
    }
    let mut vpcs: Vec<String> = f
        .cluster_vpc
        .iter()
        .chain(f.directory_vpc.iter())
        .cloned()
        .collect();
    vpcs.dedup();
    if vpcs.is_empty() {
        return Some(f);
    }
    let action = Action::DescribeNetworkAcls;
    match ask(
        lk,
        action,
        ec2.describe_network_acls()
            .filters(filter("vpc-id", &vpcs))
            .send(),
    )
    .await
    {
        Ok(out) => {
            f.network_acls = Some(
                out.network_acls()
                    .iter()
                    .map(|a| NetworkAcl {
                        id: a.network_acl_id().unwrap_or("").to_owned(),
                        vpc_id: a.vpc_id().unwrap_or("").to_owned(),
                        is_default: a.is_default().unwrap_or(false),
                        subnet_ids: a
                            .associations()
                            .iter()
                            .filter_map(|x| x.subnet_id().map(str::to_owned))
                            .collect(),
                        entries: a
                            .entries()
                            .iter()
                            .map(|e| AclEntry {
                                rule_number: e.rule_number().unwrap_or(32767),
                                egress: e.egress().unwrap_or(false),
                                protocol: e.protocol().unwrap_or("-1").to_owned(),
                                allow: e.rule_action().is_some_and(|r| r.as_str() == "allow"),
                                cidr: e.cidr_block().map(str::to_owned),
                                from_port: e.port_range().and_then(|p| p.from()),
                                to_port: e.port_range().and_then(|p| p.to()),
                            })
                            .collect(),
                    })
                    .collect(),
            )
        }
        Err(e) => f.gaps.push(Gap::new("the network ACLs", action, &e)),
    }
    let action = Action::DescribeRouteTables;
    match ask(
        lk,
        action,
        ec2.describe_route_tables()
            .filters(filter("vpc-id", &vpcs))
            .send(),
    )
    .await
    {
        Ok(out) => {
            f.route_tables = Some(
                out.route_tables()
                    .iter()
                    .map(|t| RouteTable {
                        id: t.route_table_id().unwrap_or("").to_owned(),
                        vpc_id: t.vpc_id().unwrap_or("").to_owned(),
                        main: t.associations().iter().any(|a| a.main().unwrap_or(false)),
                        subnet_ids: t
                            .associations()
                            .iter()
                            .filter_map(|a| a.subnet_id().map(str::to_owned))
                            .collect(),
                        routes: t
                            .routes()
                            .iter()
                            .filter_map(|r| {
                                Some(Route {
                                    destination: r.destination_cidr_block()?.to_owned(),
                                    target: route_target(r),
                                    state: r.state().map_or("active", |s| s.as_str()).to_owned(),
                                })
                            })
                            .collect(),
                    })
                    .collect(),
            )
        }
        Err(e) => f.gaps.push(Gap::new("the route tables", action, &e)),
    }
    if vpcs.len() > 1 {
        let action = Action::DescribeVpcPeeringConnections;
        match ask(
            lk,
            action,
            ec2.describe_vpc_peering_connections()
                .filters(filter("requester-vpc-info.vpc-id", &vpcs))
                .send(),
        )
        .await
        {
            Ok(out) => {
                f.peerings = Some(
                    out.vpc_peering_connections()
                        .iter()
                        .map(|p| Peering {
                            id: p.vpc_peering_connection_id().unwrap_or("").to_owned(),
                            status: p
                                .status()
                                .and_then(|s| s.code())
                                .map_or("", |c| c.as_str())
                                .to_owned(),
                            requester_vpc: p
                                .requester_vpc_info()
                                .and_then(|v| v.vpc_id())
                                .unwrap_or("")
                                .to_owned(),
                            accepter_vpc: p
                                .accepter_vpc_info()
                                .and_then(|v| v.vpc_id())
                                .unwrap_or("")
                                .to_owned(),
                        })
                        .collect(),
                )
            }
            Err(e) => f
                .gaps
                .push(Gap::new("the VPC peering connections", action, &e)),
        }
        let action = Action::DescribeTransitGatewayAttachments;
        match ask(
            lk,
            action,
            ec2.describe_transit_gateway_attachments()
                .filters(filter("resource-id", &vpcs))
                .send(),
        )
        .await
        {
            Ok(out) => {
                f.tgw_attachments = Some(
                    out.transit_gateway_attachments()
                        .iter()
                        .filter(|t| t.resource_type().is_some_and(|r| r.as_str() == "vpc"))
                        .map(|t| TgwAttachment {
                            id: t.transit_gateway_attachment_id().unwrap_or("").to_owned(),
                            transit_gateway_id: t.transit_gateway_id().unwrap_or("").to_owned(),
                            vpc_id: t.resource_id().unwrap_or("").to_owned(),
                            state: t.state().map_or("", |s| s.as_str()).to_owned(),
                        })
                        .collect(),
                )
            }
            Err(e) => f
                .gaps
                .push(Gap::new("the Transit Gateway attachments", action, &e)),
        }
    }
    Some(f)
}

/// Whether security-group `rules` (one direction) admit `need` to or from `peer`: by the
/// peer's group when only its groups are known, else for each of its addresses by group or
/// by CIDR.
fn admits(rules: &[&SgRule], peer: &Side, need: &Need) -> bool {
    let by_group = |r: &SgRule| r.groups.iter().any(|g| peer.groups.contains(g));
    if peer.places.is_empty() {
        rules.iter().any(|&r| r.covers(need) && by_group(r))
    } else {
        peer.places.iter().all(|p| {
            rules
                .iter()
                .any(|&r| r.covers(need) && (by_group(r) || r.covers_net(&p.net)))
        })
    }
}

/// Whether a rule for `need` names a prefix list (not expanded: the path stays unverified).
fn via_prefix_list(rules: &[&SgRule], need: &Need) -> bool {
    rules
        .iter()
        .any(|r| r.covers(need) && !r.prefix_lists.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_ports(cidr: &str) -> SgRule {
        SgRule {
            protocol: "-1".into(),
            cidrs: vec![cidr.into()],
            ..SgRule::default()
        }
    }

    fn port_rule(proto: &str, from: i32, to: i32, cidrs: &[&str], groups: &[&str]) -> SgRule {
        SgRule {
            protocol: proto.into(),
            from_port: Some(from),
            to_port: Some(to),
            cidrs: cidrs.iter().map(|s| s.to_string()).collect(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
            prefix_lists: vec![],
        }
    }

    /// AWS's directory security group: the controllers' ports from the VPC CIDR.
    fn aws_directory_rules(cidr: &str) -> Vec<SgRule> {
        let mut v = Vec::new();
        for p in [53, 88, 123, 138, 389, 445, 464] {
            v.push(port_rule("udp", p, p, &[cidr], &[]));
        }
        for (a, b) in [
            (53, 53),
            (88, 88),
            (135, 135),
            (389, 389),
            (445, 445),
            (464, 464),
            (636, 636),
            (1024, 65535),
            (3268, 3269),
        ] {
            v.push(port_rule("tcp", a, b, &[cidr], &[]));
        }
        v
    }

    fn acl_entry(
        n: i32,
        egress: bool,
        proto: &str,
        allow: bool,
        cidr: &str,
        ports: Option<(i32, i32)>,
    ) -> AclEntry {
        AclEntry {
            rule_number: n,
            egress,
            protocol: proto.into(),
            allow,
            cidr: Some(cidr.into()),
            from_port: ports.map(|p| p.0),
            to_port: ports.map(|p| p.1),
        }
    }

    fn open_acl(id: &str, vpc: &str, default: bool, subnets: &[&str]) -> NetworkAcl {
        NetworkAcl {
            id: id.into(),
            vpc_id: vpc.into(),
            is_default: default,
            subnet_ids: subnets.iter().map(|s| s.to_string()).collect(),
            entries: vec![
                acl_entry(100, false, "-1", true, "0.0.0.0/0", None),
                acl_entry(100, true, "-1", true, "0.0.0.0/0", None),
                acl_entry(32767, false, "-1", false, "0.0.0.0/0", None),
                acl_entry(32767, true, "-1", false, "0.0.0.0/0", None),
            ],
        }
    }

    fn subnet(id: &str, vpc: &str, cidr: &str) -> Subnet {
        Subnet {
            id: id.into(),
            vpc_id: vpc.into(),
            cidr: cidr.into(),
        }
    }

    fn local_table(id: &str, vpc: &str, cidr: &str) -> RouteTable {
        RouteTable {
            id: id.into(),
            vpc_id: vpc.into(),
            main: true,
            subnet_ids: vec![],
            routes: vec![Route {
                destination: cidr.into(),
                target: "local".into(),
                state: "active".into(),
            }],
        }
    }

    /// Cluster and directory in one VPC, everything open as AWS sets it up.
    fn same_vpc() -> NetworkFacts {
        NetworkFacts {
            port: 5432,
            cluster_vpc: Some("vpc-a".into()),
            cluster_subnets: vec![
                subnet("subnet-db1", "vpc-a", "10.0.1.0/24"),
                subnet("subnet-db2", "vpc-a", "10.0.2.0/24"),
            ],
            cluster_security_groups: vec!["sg-db".into()],
            directory_vpc: Some("vpc-a".into()),
            directory_subnets: vec![
                subnet("subnet-dc1", "vpc-a", "10.0.3.0/24"),
                subnet("subnet-dc2", "vpc-a", "10.0.4.0/24"),
            ],
            directory_security_group: Some("sg-dir".into()),
            domain_controllers: vec!["10.0.3.10".into(), "10.0.4.10".into()],
            client: ClientSpec::default(),
            security_groups: vec![
                SecurityGroup {
                    id: "sg-db".into(),
                    ingress: vec![SgRule {
                        protocol: "-1".into(),
                        groups: vec!["sg-dir".into()],
                        ..SgRule::default()
                    }],
                    egress: vec![all_ports("0.0.0.0/0")],
                    ..SecurityGroup::default()
                },
                SecurityGroup {
                    id: "sg-dir".into(),
                    ingress: aws_directory_rules("10.0.0.0/16"),
                    egress: vec![all_ports("0.0.0.0/0")],
                    ..SecurityGroup::default()
                },
            ],
            network_acls: Some(vec![open_acl("acl-a", "vpc-a", true, &[])]),
            route_tables: Some(vec![local_table("rtb-a", "vpc-a", "10.0.0.0/16")]),
            peerings: None,
            tgw_attachments: None,
            gaps: vec![],
        }
    }

    fn group<'a>(f: &'a mut NetworkFacts, id: &str) -> &'a mut SecurityGroup {
        f.security_groups.iter_mut().find(|g| g.id == id).unwrap()
    }

    fn only(v: &Verdict, id: &str) -> Problem {
        let found: Vec<&Problem> = v.problems.iter().filter(|p| p.id == id).collect();
        assert_eq!(found.len(), 1, "{id} in {:#?}", v.problems);
        found[0].clone()
    }

    #[test]
    fn the_path_aws_sets_up_is_open() {
        let v = verdict(&same_vpc());
        assert!(v.problems.is_empty(), "{:#?}", v.problems);
        assert_eq!(v.hops.len(), 1);
        assert_eq!(v.hops[0].hop, "cluster -> domain controllers");
        assert!(v.hops[0].open);
        assert!(v.hops[0].ports.contains(&"udp 88".to_string()));
    }

    #[test]
    fn a_missing_kerberos_ingress_rule_fails_naming_the_rule_and_the_fix() {
        let mut f = same_vpc();
        group(&mut f, "sg-dir")
            .ingress
            .retain(|r| !(r.protocol == "tcp" && r.from_port == Some(88)));
        let v = verdict(&f);
        let p = only(&v, "network.sg_ingress_missing");
        assert_eq!(p.severity, Severity::Error);
        assert_eq!(p.layer, Layer::SecurityGroupIngress);
        assert_eq!(p.resource, "sg-dir");
        assert_eq!(p.ports, ["tcp 88"]);
        assert!(
            p.message
                .contains("admits tcp 88 from the cluster (security group sg-db"),
            "{}",
            p.message
        );
        assert_eq!(
            p.fix,
            [
                "aws ec2 authorize-security-group-ingress --group-id sg-dir --protocol tcp --port 88 --source-group sg-db"
            ]
        );
        assert!(!v.hops[0].open);
    }

    #[test]
    fn a_source_group_rule_admits_as_well_as_a_cidr() {
        let mut f = same_vpc();
        group(&mut f, "sg-dir").ingress = vec![SgRule {
            protocol: "-1".into(),
            groups: vec!["sg-db".into()],
            ..SgRule::default()
        }];
        assert!(verdict(&f).problems.is_empty());
        // A CIDR that covers one cluster subnet only is not enough.
        group(&mut f, "sg-dir").ingress = vec![all_ports("10.0.1.0/24")];
        let p = only(&verdict(&f), "network.sg_ingress_missing");
        assert!(p.ports.contains(&"tcp 88".to_string()), "{p:?}");
    }

    #[test]
    fn restricted_egress_fails_with_the_egress_command() {
        let mut f = same_vpc();
        group(&mut f, "sg-db").egress = vec![port_rule("tcp", 443, 443, &["0.0.0.0/0"], &[])];
        let v = verdict(&f);
        let p = only(&v, "network.sg_egress_missing");
        assert_eq!(p.severity, Severity::Error);
        assert!(p.ports.contains(&"tcp 88".to_string()) && p.ports.contains(&"udp 53".to_string()));
        assert!(p.fix.contains(
            &"aws ec2 authorize-security-group-egress --group-id sg-db --ip-permissions IpProtocol=tcp,FromPort=88,ToPort=88,UserIdGroupPairs=[{GroupId=sg-dir}]".to_string()
        ), "{:?}", p.fix);
    }

    #[test]
    fn an_advisory_port_only_warns_and_the_hop_stays_open() {
        let mut f = same_vpc();
        group(&mut f, "sg-dir")
            .ingress
            .retain(|r| r.from_port != Some(636));
        let v = verdict(&f);
        let p = only(&v, "network.sg_ingress_missing");
        assert_eq!(p.severity, Severity::Warning);
        assert_eq!(p.ports, ["tcp 636"]);
        assert!(v.hops[0].open);
    }

    #[test]
    fn a_nacl_deny_blocks_and_the_fix_goes_below_it() {
        let mut f = same_vpc();
        let mut acl = open_acl("acl-dc", "vpc-a", false, &["subnet-dc1", "subnet-dc2"]);
        acl.entries.push(acl_entry(
            90,
            false,
            "17",
            false,
            "10.0.0.0/16",
            Some((88, 88)),
        ));
        f.network_acls.as_mut().unwrap().push(acl);
        let v = verdict(&f);
        // One problem per cluster subnet the deny meets.
        let blocks: Vec<&Problem> = v
            .problems
            .iter()
            .filter(|p| p.id == "network.nacl_blocks")
            .collect();
        assert_eq!(blocks.len(), 2, "{blocks:#?}");
        assert_eq!(v.problems.len(), 2, "{:#?}", v.problems);
        let p = blocks[0];
        assert_eq!(p.severity, Severity::Error);
        assert_eq!(p.resource, "acl-dc");
        assert_eq!(p.ports, ["udp 88"]);
        assert!(
            p.message.contains("blocks inbound udp 88 from 10.0.1.0/24"),
            "{}",
            p.message
        );
        assert!(p.message.contains("rule 90 denies it"), "{}", p.message);
        assert!(p.fix[0].starts_with("aws ec2 create-network-acl-entry --network-acl-id acl-dc --ingress --rule-number 89 --protocol udp --port-range From=88,To=88 --cidr-block 10.0.1.0/24 --rule-action allow"), "{:?}", p.fix);
        assert!(p.fix.iter().any(|x| x.contains(
            "delete-network-acl-entry --network-acl-id acl-dc --ingress --rule-number 90"
        )));
        assert!(!v.hops[0].open);
    }

    #[test]
    fn a_nacl_without_the_ephemeral_return_ports_blocks_the_replies() {
        let mut f = same_vpc();
        let mut acl = open_acl("acl-db", "vpc-a", false, &["subnet-db1", "subnet-db2"]);
        // Inbound only the DB port: the domain controllers' replies cannot come back.
        acl.entries[0] = acl_entry(100, false, "6", true, "0.0.0.0/0", Some((5432, 5432)));
        f.network_acls.as_mut().unwrap().push(acl);
        let v = verdict(&f);
        let replies: Vec<&Problem> = v
            .problems
            .iter()
            .filter(|p| p.id == "network.nacl_blocks")
            .collect();
        assert!(!replies.is_empty());
        assert!(
            replies.iter().all(|p| p.message.contains("stateless")),
            "{replies:#?}"
        );
        assert!(
            replies
                .iter()
                .any(|p| p.ports.contains(&"udp 1024-65535".to_string()))
        );
        assert!(
            replies[0].message.contains("no entry allows it"),
            "{}",
            replies[0].message
        );
        assert!(
            replies[0].fix[0].contains("--rule-number 200"),
            "{:?}",
            replies[0].fix
        );
    }

    #[test]
    fn nacls_do_not_apply_inside_one_subnet() {
        let mut f = same_vpc();
        f.directory_subnets = f.cluster_subnets.clone();
        f.domain_controllers = vec!["10.0.1.10".into(), "10.0.2.10".into()];
        f.cluster_subnets.truncate(1);
        let mut acl = open_acl("acl-x", "vpc-a", true, &[]);
        acl.entries.retain(|e| e.rule_number == 32767);
        f.network_acls = Some(vec![acl]);
        let v = verdict(&f);
        // The DC in the cluster's own subnet is reached; the other one is not.
        assert!(v.problems.iter().any(|p| p.id == "network.nacl_blocks"));
        assert!(
            v.problems.iter().all(|p| !p.message.contains("10.0.1.10")),
            "{:#?}",
            v.problems
        );
        assert!(
            v.problems
                .iter()
                .any(|p| p.message.contains("10.0.2.10/32"))
        );
    }

    #[test]
    fn a_partly_overlapping_deny_blocks() {
        let mut acl = open_acl("acl-1", "vpc-a", true, &[]);
        acl.entries.push(acl_entry(
            50,
            false,
            "6",
            false,
            "10.0.1.128/25",
            Some((80, 100)),
        ));
        let peer: Ipv4Net = "10.0.1.0/24".parse().unwrap();
        assert_eq!(
            acl_decide(&acl, false, Tcp, (88, 88), &peer),
            AclDecision::Deny(Some(50))
        );
        assert_eq!(
            acl_decide(&acl, false, Tcp, (443, 443), &peer),
            AclDecision::Allow
        );
        assert_eq!(
            acl_decide(&acl, false, Udp, (88, 88), &peer),
            AclDecision::Allow
        );
    }

    fn two_vpcs() -> NetworkFacts {
        let mut f = same_vpc();
        f.directory_vpc = Some("vpc-b".into());
        f.directory_subnets = vec![
            subnet("subnet-dc1", "vpc-b", "10.1.3.0/24"),
            subnet("subnet-dc2", "vpc-b", "10.1.4.0/24"),
        ];
        f.domain_controllers = vec!["10.1.3.10".into(), "10.1.4.10".into()];
        group(&mut f, "sg-dir").ingress = aws_directory_rules("10.0.0.0/8");
        f.network_acls = Some(vec![
            open_acl("acl-a", "vpc-a", true, &[]),
            open_acl("acl-b", "vpc-b", true, &[]),
        ]);
        f.route_tables = Some(vec![
            local_table("rtb-a", "vpc-a", "10.0.0.0/16"),
            local_table("rtb-b", "vpc-b", "10.1.0.0/16"),
        ]);
        f.peerings = Some(vec![]);
        f.tgw_attachments = Some(vec![]);
        f
    }

    fn peer(f: &mut NetworkFacts, status: &str, routes: bool) {
        f.peerings = Some(vec![Peering {
            id: "pcx-1".into(),
            status: status.into(),
            requester_vpc: "vpc-a".into(),
            accepter_vpc: "vpc-b".into(),
        }]);
        if routes {
            let t = f.route_tables.as_mut().unwrap();
            t[0].routes.push(Route {
                destination: "10.1.0.0/16".into(),
                target: "pcx-1".into(),
                state: "active".into(),
            });
            t[1].routes.push(Route {
                destination: "10.0.0.0/16".into(),
                target: "pcx-1".into(),
                state: "active".into(),
            });
        }
    }

    #[test]
    fn vpcs_without_peering_or_tgw_are_not_connected() {
        let v = verdict(&two_vpcs());
        let p = only(&v, "network.vpcs_not_connected");
        assert_eq!(p.severity, Severity::Error);
        assert!(
            p.fix[0].contains("create-vpc-peering-connection --vpc-id vpc-a --peer-vpc-id vpc-b")
        );
        assert!(!v.hops[0].open);
        // A peering still waiting for acceptance is said so.
        let mut f = two_vpcs();
        peer(&mut f, "pending-acceptance", true);
        let p = only(&verdict(&f), "network.vpcs_not_connected");
        assert!(
            p.message.contains("pcx-1 is pending-acceptance"),
            "{}",
            p.message
        );
    }

    #[test]
    fn peering_with_routes_both_ways_is_open() {
        let mut f = two_vpcs();
        peer(&mut f, "active", true);
        let v = verdict(&f);
        assert!(v.problems.is_empty(), "{:#?}", v.problems);
        assert!(v.hops[0].open);
    }

    #[test]
    fn a_missing_return_route_is_named_with_its_create_route() {
        let mut f = two_vpcs();
        peer(&mut f, "active", true);
        f.route_tables.as_mut().unwrap()[1].routes.pop();
        let v = verdict(&f);
        let routes: Vec<&Problem> = v
            .problems
            .iter()
            .filter(|p| p.id == "network.no_route")
            .collect();
        assert_eq!(routes.len(), 2, "{routes:#?}"); // one per cluster subnet
        assert!(routes.iter().all(|p| p.resource == "rtb-b"));
        assert!(routes[0].fix[0].starts_with(
            "aws ec2 create-route --route-table-id rtb-b --destination-cidr-block 10.0.1.0/24 --vpc-peering-connection-id pcx-1"
        ), "{:?}", routes[0].fix);
        assert_eq!(routes[0].severity, Severity::Error);
    }

    #[test]
    fn a_blackhole_route_fails() {
        let mut f = two_vpcs();
        peer(&mut f, "active", true);
        f.route_tables.as_mut().unwrap()[0].routes[1].state = "blackhole".into();
        let v = verdict(&f);
        assert!(
            v.problems
                .iter()
                .any(|p| p.id == "network.no_route" && p.message.contains("blackhole")),
            "{:#?}",
            v.problems
        );
    }

    #[test]
    fn a_transit_gateway_both_vpcs_use_is_open() {
        let mut f = two_vpcs();
        f.tgw_attachments = Some(vec![
            TgwAttachment {
                id: "tgw-attach-a".into(),
                transit_gateway_id: "tgw-1".into(),
                vpc_id: "vpc-a".into(),
                state: "available".into(),
            },
            TgwAttachment {
                id: "tgw-attach-b".into(),
                transit_gateway_id: "tgw-1".into(),
                vpc_id: "vpc-b".into(),
                state: "available".into(),
            },
        ]);
        let t = f.route_tables.as_mut().unwrap();
        t[0].routes.push(Route {
            destination: "10.1.0.0/16".into(),
            target: "tgw-1".into(),
            state: "active".into(),
        });
        t[1].routes.push(Route {
            destination: "10.0.0.0/8".into(),
            target: "tgw-1".into(),
            state: "active".into(),
        });
        assert!(verdict(&f).problems.is_empty());
        // Attached to different gateways: not joined.
        f.tgw_attachments.as_mut().unwrap()[1].transit_gateway_id = "tgw-2".into();
        only(&verdict(&f), "network.vpcs_not_connected");
    }

    #[test]
    fn a_prefix_list_rule_is_not_verified_rather_than_missing() {
        let mut f = same_vpc();
        group(&mut f, "sg-dir").ingress = vec![SgRule {
            protocol: "-1".into(),
            prefix_lists: vec!["pl-1".into()],
            ..SgRule::default()
        }];
        let v = verdict(&f);
        let p = only(&v, "network.sg_prefix_list");
        assert_eq!(p.severity, Severity::Warning);
        assert!(v.hops[0].open);
    }

    #[test]
    fn the_client_hops_need_the_db_port_and_kerberos() {
        let mut f = same_vpc();
        f.client = ClientSpec::parse(None, Some("192.168.10.0/24")).unwrap();
        let v = verdict(&f);
        let hops: Vec<&str> = v.hops.iter().map(|h| h.hop.as_str()).collect();
        assert_eq!(
            hops,
            [
                "cluster -> domain controllers",
                "client -> cluster",
                "client -> domain controllers"
            ]
        );
        let db = v
            .problems
            .iter()
            .find(|p| p.hop == "client -> cluster")
            .expect("DB port closed");
        assert_eq!(db.ports, ["tcp 5432"]);
        assert_eq!(
            db.fix,
            [
                "aws ec2 authorize-security-group-ingress --group-id sg-db --protocol tcp --port 5432 --cidr 192.168.10.0/24"
            ]
        );
        let kdc = v
            .problems
            .iter()
            .find(|p| p.hop == "client -> domain controllers")
            .expect("KDC closed");
        assert!(kdc.ports.contains(&"udp 88".to_string()));
        // A client security group admitted by the DB security group passes.
        let mut f = same_vpc();
        f.client = ClientSpec::parse(Some("sg-0abc"), None).unwrap();
        f.security_groups.push(SecurityGroup {
            id: "sg-0abc".into(),
            egress: vec![all_ports("0.0.0.0/0")],
            ..SecurityGroup::default()
        });
        group(&mut f, "sg-db")
            .ingress
            .push(port_rule("tcp", 5432, 5432, &[], &["sg-0abc"]));
        group(&mut f, "sg-dir")
            .ingress
            .push(port_rule("-1", 0, 0, &[], &["sg-0abc"]));
        group(&mut f, "sg-dir")
            .ingress
            .last_mut()
            .unwrap()
            .from_port = None;
        group(&mut f, "sg-dir").ingress.last_mut().unwrap().to_port = None;
        let v = verdict(&f);
        assert!(v.problems.is_empty(), "{:#?}", v.problems);
        assert!(v.hops.iter().all(|h| h.open));
    }

    #[test]
    fn unread_facts_are_not_judged() {
        let mut f = same_vpc();
        f.security_groups.clear();
        f.network_acls = None;
        let v = verdict(&f);
        assert!(v.problems.is_empty(), "{:#?}", v.problems);
        let mut f = same_vpc();
        f.cluster_security_groups.clear();
        only(&verdict(&f), "network.no_security_groups");
    }

    #[test]
    fn the_db_security_group_should_admit_the_directory() {
        let mut f = same_vpc();
        group(&mut f, "sg-db").ingress.clear();
        let p = only(&verdict(&f), "network.db_sg_admits_directory");
        assert_eq!(p.severity, Severity::Warning);
        assert_eq!(
            p.fix,
            [
                "aws ec2 authorize-security-group-ingress --group-id sg-db --protocol all --source-group sg-dir"
            ]
        );
    }

    #[test]
    fn client_input_is_checked() {
        assert_eq!(
            ClientSpec::parse(None, Some("10.0.0.15"))
                .unwrap()
                .cidr
                .as_deref(),
            Some("10.0.0.15/32")
        );
        assert_eq!(
            ClientSpec::parse(None, Some("10.0.0.7/24"))
                .unwrap()
                .cidr
                .as_deref(),
            Some("10.0.0.0/24")
        );
        assert!(
            ClientSpec::parse(Some("SG-0ABC"), None)
                .unwrap_err()
                .contains("sg-")
        );
        assert_eq!(
            ClientSpec::parse(Some("sg-0ABC"), None)
                .unwrap()
                .security_group
                .as_deref(),
            Some("sg-0abc")
        );
        for bad in ["10.0.0.0/33", "db.example.com", "", "fe80::/64"] {
            let e = ClientSpec::parse(None, Some(bad)).unwrap_err();
            assert!(e.contains("10.0.0.0/24"), "{e}");
        }
        assert!(ClientSpec::parse(Some("sg-xyz"), None).is_err());
    }
}
