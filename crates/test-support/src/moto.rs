//! A `moto_server` of its own for each test, on a free loopback port, stopped on drop.
//!
//! Used by the domain crate's tests and the CLI's; it needs the standard library only.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The region every test uses.
pub const REGION: &str = "us-east-1";

/// A running `moto_server`, killed when dropped (also when the test panics).
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Starts `moto_server` on a free loopback port and waits until it answers.
    ///
    /// Panics with the install command when `moto_server` is missing: a test that needs moto
    /// never passes without it.
    pub fn start() -> Moto {
        let mut last_err = String::new();
        // The free port can be taken between asking and binding: try a few.
        for _ in 0..5 {
            let port = free_port();
            let child = match Command::new("moto_server")
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                    "`moto_server` is not on PATH: these tests need moto in server mode; install it with: pip install \"moto[server]\""
                ),
                Err(e) => panic!("cannot start moto_server: {e}"),
            };
            let mut moto = Moto { child, port };
            match moto.wait_ready(Duration::from_secs(60)) {
                Ok(()) => return moto,
                Err(e) => last_err = e,
            }
        }
        panic!("moto_server did not come up: {last_err}");
    }

    fn wait_ready(&mut self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("moto_server exited with {status}"));
            }
            if TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "not listening on port {} after {within:?}",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The endpoint URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Calls an EC2 Query API action.
    pub fn ec2(&self, action: &str, params: &[(&str, &str)]) -> String {
        self.query("ec2", "2016-11-15", action, params)
    }

    /// Calls an RDS Query API action.
    pub fn rds(&self, action: &str, params: &[(&str, &str)]) -> String {
        self.query("rds", "2014-10-31", action, params)
    }

    /// Calls an IAM Query API action.
    pub fn iam(&self, action: &str, params: &[(&str, &str)]) -> String {
        self.query("iam", "2010-05-08", action, params)
    }

    /// Turns moto's IAM enforcement on for every later request (`/moto-api/reset-auth`):
    /// from then on only the access keys created through [`Moto::iam`] are accepted, with
    /// their policies. Set up the fixtures first.
    pub fn enforce_iam(&self) {
        let body = "0";
        let request = format!(
            "POST /moto-api/reset-auth HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n{body}",
            port = self.port,
            len = body.len()
        );
        let mut stream =
            TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).expect("connect to moto");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("read moto's answer");
        assert!(
            response.starts_with("HTTP/1.1 200"),
            "reset-auth failed: {response}"
        );
    }

    /// Gives a directory's security group the inbound rules AWS creates for its controllers
    /// (`UpdateSecurityGroupForDirectoryControllers`), from `cidr`; moto creates the group
    /// without them. Returns the group id.
    pub fn open_directory_security_group(&self, directory_id: &str, cidr: &str) -> String {
        self.open_directory_security_group_in(REGION, directory_id, cidr)
    }

    /// [`Moto::open_directory_security_group`] in `region`.
    pub fn open_directory_security_group_in(
        &self,
        region: &str,
        directory_id: &str,
        cidr: &str,
    ) -> String {
        let d = self.ds_in(
            region,
            "DescribeDirectories",
            &format!(r#"{{"DirectoryIds":["{directory_id}"]}}"#),
        );
        let sg = json_string(&d, "SecurityGroupId");
        let mut params: Vec<(String, String)> = vec![("GroupId".into(), sg.clone())];
        let rules: [(&str, u16, u16); 16] = [
            ("udp", 53, 53),
            ("udp", 88, 88),
            ("udp", 123, 123),
            ("udp", 138, 138),
            ("udp", 389, 389),
            ("udp", 445, 445),
            ("udp", 464, 464),
            ("tcp", 53, 53),
            ("tcp", 88, 88),
            ("tcp", 135, 135),
            ("tcp", 389, 389),
            ("tcp", 445, 445),
            ("tcp", 464, 464),
            ("tcp", 636, 636),
            ("tcp", 1024, 65535),
            ("tcp", 3268, 3269),
        ];
        for (i, (proto, from, to)) in rules.iter().enumerate() {
            let n = i + 1;
            params.push((format!("IpPermissions.{n}.IpProtocol"), proto.to_string()));
            params.push((format!("IpPermissions.{n}.FromPort"), from.to_string()));
            params.push((format!("IpPermissions.{n}.ToPort"), to.to_string()));
            params.push((
                format!("IpPermissions.{n}.IpRanges.1.CidrIp"),
                cidr.to_string(),
            ));
        }
        let refs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.ec2_in(region, "AuthorizeSecurityGroupIngress", &refs);
        sg
    }

    /// Calls a Directory Service (JSON protocol) operation with a JSON body.
    pub fn ds(&self, operation: &str, json: &str) -> String {
        self.post(
            "ds",
            &format!(
                "Content-Type: application/x-amz-json-1.1\r\nX-Amz-Target: DirectoryService_20150416.{operation}\r\n"
            ),
            json,
            operation,
        )
    }

    fn query(&self, service: &str, version: &str, action: &str, params: &[(&str, &str)]) -> String {
        self.query_in(REGION, service, version, action, params)
    }

    /// Calls an RDS Query API action in `region` (moto keeps each region apart).
    pub fn rds_in(&self, region: &str, action: &str, params: &[(&str, &str)]) -> String {
        self.query_in(region, "rds", "2014-10-31", action, params)
    }

    /// Calls an EC2 Query API action in `region`.
    pub fn ec2_in(&self, region: &str, action: &str, params: &[(&str, &str)]) -> String {
        self.query_in(region, "ec2", "2016-11-15", action, params)
    }

    /// Calls a Directory Service operation in `region`.
    pub fn ds_in(&self, region: &str, operation: &str, json: &str) -> String {
        self.post_in(
            region,
            "ds",
            &format!(
                "Content-Type: application/x-amz-json-1.1\r\nX-Amz-Target: DirectoryService_20150416.{operation}\r\n"
            ),
            json,
            operation,
        )
    }

    fn query_in(
        &self,
        region: &str,
        service: &str,
        version: &str,
        action: &str,
        params: &[(&str, &str)],
    ) -> String {
        let mut body = format!("Action={action}&Version={version}");
        for (k, v) in params {
            body.push('&');
            body.push_str(&form_encode(k));
            body.push('=');
            body.push_str(&form_encode(v));
        }
        self.post_in(
            region,
            service,
            "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n",
            &body,
            action,
        )
    }

    /// One HTTP/1.1 request. moto does not check signatures; the Authorization header only
    /// tells it the service and region.
    fn post(&self, service: &str, headers: &str, body: &str, what: &str) -> String {
        self.post_in(REGION, service, headers, body, what)
    }

    fn post_in(
        &self,
        region: &str,
        service: &str,
        headers: &str,
        body: &str,
        what: &str,
    ) -> String {
        let request = format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n{body}",
            port = self.port,
            len = body.len()
        );
        let mut stream =
            TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).expect("connect to moto");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("read moto's answer");
        assert!(
            response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
            "{service} {what} failed: {response}"
        );
        response
    }

    /// Creates a VPC and returns its id.
    pub fn create_vpc(&self, cidr: &str) -> String {
        let r = self.ec2("CreateVpc", &[("CidrBlock", cidr)]);
        xml_value(&r, "vpcId")
    }

    /// Creates a subnet and returns its id.
    pub fn create_subnet(&self, vpc: &str, cidr: &str, az: &str) -> String {
        let r = self.ec2(
            "CreateSubnet",
            &[
                ("VpcId", vpc),
                ("CidrBlock", cidr),
                ("AvailabilityZone", az),
            ],
        );
        xml_value(&r, "subnetId")
    }

    /// An AWS Managed Microsoft AD `domain` in a new VPC `10.<octet>.0.0/16`, and an Aurora
    /// PostgreSQL cluster `id` in the same VPC joined to it, with `instances` joined instances
    /// named `<id>-1`, `<id>-2`, … Returns the directory id and the writer endpoint.
    pub fn joined_cluster(
        &self,
        id: &str,
        domain: &str,
        octet: u8,
        instances: usize,
    ) -> (String, String) {
        let vpc = self.create_vpc(&format!("10.{octet}.0.0/16"));
        let a = self.create_subnet(&vpc, &format!("10.{octet}.1.0/24"), "us-east-1a");
        let b = self.create_subnet(&vpc, &format!("10.{octet}.2.0/24"), "us-east-1b");
        let dir = self.ds(
            "CreateMicrosoftAD",
            &format!(
                r#"{{"Name":"{domain}","ShortName":"CORP","Password":"Not-a-secret-1","Description":"test","VpcSettings":{{"VpcId":"{vpc}","SubnetIds":["{a}","{b}"]}}}}"#
            ),
        );
        let dir = json_string(&dir, "DirectoryId");
        // As AWS sets the directory up: its controllers admit the VPC.
        self.open_directory_security_group(&dir, &format!("10.{octet}.0.0/16"));
        let group = format!("{id}-subnets");
        self.rds(
            "CreateDBSubnetGroup",
            &[
                ("DBSubnetGroupName", &group),
                ("DBSubnetGroupDescription", "test"),
                ("SubnetIds.SubnetIdentifier.1", &a),
                ("SubnetIds.SubnetIdentifier.2", &b),
            ],
        );
        let role = "rds-directoryservice-kerberos-access-role";
        let cluster = self.rds(
            "CreateDBCluster",
            &[
                ("DBClusterIdentifier", id),
                ("Engine", "aurora-postgresql"),
                ("EngineVersion", "15.4"),
                ("MasterUsername", "postgres"),
                ("MasterUserPassword", "Not-a-secret-1"),
                ("DBSubnetGroupName", &group),
                ("Domain", &dir),
                ("DomainIAMRoleName", role),
            ],
        );
        for n in 1..=instances {
            self.rds(
                "CreateDBInstance",
                &[
                    ("DBInstanceIdentifier", &format!("{id}-{n}")),
                    ("DBClusterIdentifier", id),
                    ("Engine", "aurora-postgresql"),
                    ("DBInstanceClass", "db.r6g.large"),
                    ("DBSubnetGroupName", &group),
                    ("Domain", &dir),
                    ("DomainIAMRoleName", role),
                ],
            );
        }
        (dir, xml_value(&cluster, "Endpoint"))
    }
}

/// A cluster of [`Moto::fleet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetMember {
    /// Aurora PostgreSQL joined to the region's directory (cluster and instance).
    Joined,
    /// Aurora PostgreSQL without a domain membership.
    Plain,
    /// Aurora PostgreSQL joined to a directory that does not exist (`aws.directory` fails).
    MissingDirectory,
    /// Aurora MySQL: not listed by a fleet check of Aurora PostgreSQL.
    Mysql,
}

impl Moto {
    /// In `region`: a VPC `10.<octet>.0.0/16` with two subnets, an AWS Managed Microsoft AD
    /// `corp.example.com` in it, a DB subnet group, and each cluster with one instance
    /// `<id>-1`. Returns the directory id.
    pub fn fleet(&self, region: &str, octet: u8, clusters: &[(&str, FleetMember)]) -> String {
        let vpc = xml_value(
            &self.ec2_in(
                region,
                "CreateVpc",
                &[("CidrBlock", &format!("10.{octet}.0.0/16"))],
            ),
            "vpcId",
        );
        let subnet = |n: u8, az: &str| {
            xml_value(
                &self.ec2_in(
                    region,
                    "CreateSubnet",
                    &[
                        ("VpcId", &vpc),
                        ("CidrBlock", &format!("10.{octet}.{n}.0/24")),
                        ("AvailabilityZone", &format!("{region}{az}")),
                    ],
                ),
                "subnetId",
            )
        };
        let (a, b) = (subnet(1, "a"), subnet(2, "b"));
        let dir = self.ds_in(
            region,
            "CreateMicrosoftAD",
            &format!(
                r#"{{"Name":"corp.example.com","ShortName":"CORP","Password":"Not-a-secret-1","Description":"test","VpcSettings":{{"VpcId":"{vpc}","SubnetIds":["{a}","{b}"]}}}}"#
            ),
        );
        let dir = json_string(&dir, "DirectoryId");
        // As AWS leaves it: the controllers admit the VPC on the ports AD needs.
        self.open_directory_security_group_in(region, &dir, &format!("10.{octet}.0.0/16"));
        let group = format!("fleet-{octet}-subnets");
        self.rds_in(
            region,
            "CreateDBSubnetGroup",
            &[
                ("DBSubnetGroupName", &group),
                ("DBSubnetGroupDescription", "test"),
                ("SubnetIds.SubnetIdentifier.1", &a),
                ("SubnetIds.SubnetIdentifier.2", &b),
            ],
        );
        let role = "rds-directoryservice-kerberos-access-role";
        for (id, kind) in clusters {
            let engine = match kind {
                FleetMember::Mysql => "aurora-mysql",
                _ => "aurora-postgresql",
            };
            let domain = match kind {
                FleetMember::Joined => Some(dir.as_str()),
                FleetMember::MissingDirectory => Some("d-0000000000"),
                FleetMember::Plain | FleetMember::Mysql => None,
            };
            let mut params = vec![
                ("DBClusterIdentifier", id.to_string()),
                ("Engine", engine.to_string()),
                ("MasterUsername", "postgres".to_string()),
                ("MasterUserPassword", "Not-a-secret-1".to_string()),
                ("DBSubnetGroupName", group.clone()),
            ];
            if let Some(d) = domain {
                params.push(("Domain", d.to_string()));
                params.push(("DomainIAMRoleName", role.to_string()));
            }
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            self.rds_in(region, "CreateDBCluster", &params);
            let instance = format!("{id}-1");
            let mut params = vec![
                ("DBInstanceIdentifier", instance.as_str()),
                ("DBClusterIdentifier", id),
                ("Engine", engine),
                ("DBInstanceClass", "db.r6g.large"),
                ("DBSubnetGroupName", group.as_str()),
            ];
            if let Some(d) = domain {
                params.push(("Domain", d));
                params.push(("DomainIAMRoleName", role));
            }
            self.rds_in(region, "CreateDBInstance", &params);
        }
        dir
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The text of the first `<tag>…</tag>` in `xml`.
pub fn xml_value(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
        + open.len();
    let end = xml[start..].find(&close).expect("closing tag") + start;
    xml[start..end].to_owned()
}

/// The string value of `"key": "value"` in a JSON text (enough for moto's flat answers).
pub fn json_string(json: &str, key: &str) -> String {
    let pat = format!("\"{key}\"");
    let at = json
        .find(&pat)
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        + pat.len();
    let rest = json[at..]
        .trim_start()
        .strip_prefix(':')
        .expect("colon")
        .trim_start();
    let rest = rest.strip_prefix('"').expect("a string value");
    rest[..rest.find('"').expect("closing quote")].to_owned()
}
