//! A local Kerberos realm shaped like Aurora behind AWS Managed Microsoft AD.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
