//! Header secrets by reference: `env:NAME`, `ssm:NAME`, `secretsmanager:NAME`, `literal:VALUE`.
//!
//! This module owns parsing a reference, the [`SecretResolver`] port, and [`LocalSecrets`]
//! (environment variables and literals). The SSM Parameter Store and Secrets Manager resolver
//! lives in `aws` behind the `aws` feature. [`SecretRef::parse_for`] holds the rules every run
//! enforces (which variables, parameters and secrets a dataset may name). A resolved value is a [`Secret`], whose `Debug`
//! never shows the value: it goes into a request header and nowhere else (no log, no error).

use std::fmt;
use std::future::Future;
use std::sync::Arc;

/// A parsed secret reference, as written in a spec's `[source] headers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable of the extract process.
    Env(String),
    /// An SSM Parameter Store parameter (SecureString decrypted).
    Ssm(String),
    /// A Secrets Manager secret (its `SecretString`).
    SecretsManager(String),
    /// A value that is not secret, written inline.
    Literal(String),
}

impl SecretRef {
    /// Parses `env:NAME`, `ssm:NAME`, `secretsmanager:NAME` or `literal:VALUE`.
    pub fn parse(text: &str) -> Result<SecretRef, SecretError> {
        let (kind, rest) = text.split_once(':').unwrap_or(("", ""));
        let reference = match kind {
            "env" => SecretRef::Env(rest.to_owned()),
            "ssm" => SecretRef::Ssm(rest.to_owned()),
            "secretsmanager" => SecretRef::SecretsManager(rest.to_owned()),
            "literal" => SecretRef::Literal(rest.to_owned()),
            _ => {
                return Err(SecretError::new(
                    SecretErrorKind::BadReference,
                    "expected env:NAME, ssm:NAME, secretsmanager:NAME or literal:VALUE",
                ));
            }
        };
        if rest.is_empty() {
            return Err(SecretError::new(
                SecretErrorKind::BadReference,
                format!("nothing after \"{kind}:\""),
            ));
        }
        Ok(reference)
    }

    /// Parses a header reference of dataset `dataset` and checks it against the rules every
    /// run enforces, locally and in the Lambda alike
    /// ([`graphetl_core::spec::check_header_reference`]): `env:` reads only
    /// `GRAPHETL_SECRET_*` variables and never `AWS_*`, `ssm:` only `/graphetl/<dataset>/…`,
    /// `secretsmanager:` only `graphetl/<dataset>/…`. A refusal is [`SecretErrorKind::Refused`].
    pub fn parse_for(text: &str, dataset: &str) -> Result<SecretRef, SecretError> {
        let reference = SecretRef::parse(text)?;
        graphetl_core::spec::check_header_reference(text, dataset)
            .map_err(|message| SecretError::new(SecretErrorKind::Refused, message))?;
        Ok(reference)
    }

    /// Whether the value is a secret (anything but `literal:`).
    pub fn is_secret(&self) -> bool {
        !matches!(self, SecretRef::Literal(_))
    }

    /// The reference without a literal's value (safe to log).
    pub fn describe(&self) -> String {
        match self {
            SecretRef::Env(name) => format!("env:{name}"),
            SecretRef::Ssm(name) => format!("ssm:{name}"),
            SecretRef::SecretsManager(name) => format!("secretsmanager:{name}"),
            SecretRef::Literal(_) => "literal".to_owned(),
        }
    }
}

/// A resolved secret value; `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, to put in a request header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What kind of failure a secret lookup had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretErrorKind {
    /// The reference is malformed.
    BadReference,
    /// The variable, parameter or secret does not exist (or this resolver cannot read its kind).
    NotFound,
    /// Not allowed to read it.
    AccessDenied,
    /// The secret service failed or throttled; a retry can succeed.
    Unavailable,
    /// The reference is one no dataset may use (an `AWS_*` or unprefixed variable, another
    /// dataset's parameter or secret).
    Refused,
}

/// A failed lookup; its message names the reference, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SecretError {
    kind: SecretErrorKind,
    message: String,
}

impl SecretError {
    /// Builds an error.
    pub fn new(kind: SecretErrorKind, message: impl Into<String>) -> SecretError {
        SecretError { kind, message: message.into() }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> SecretErrorKind {
        self.kind
    }
}

/// The port: resolves references to values.
pub trait SecretResolver: Send + Sync {
    /// Looks `reference` up.
    fn resolve(
        &self,
        reference: &SecretRef,
    ) -> impl Future<Output = Result<Secret, SecretError>> + Send;
}

type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Environment variables and literals; `ssm:` and `secretsmanager:` references fail with
/// `NotFound` (use `aws::AwsSecrets`, feature `aws`).
#[derive(Clone)]
pub struct LocalSecrets {
    lookup: Lookup,
}

impl fmt::Debug for LocalSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalSecrets")
    }
}

impl Default for LocalSecrets {
    fn default() -> Self {
        LocalSecrets::from_env()
    }
}

impl LocalSecrets {
    /// Reads `env:` references from the process environment.
    pub fn from_env() -> LocalSecrets {
        LocalSecrets { lookup: Arc::new(|name| std::env::var(name).ok()) }
    }

    /// Reads `env:` references through `lookup` (a variable's value by name).
    pub fn with_lookup(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        LocalSecrets { lookup: Arc::new(lookup) }
    }

    /// Resolves `env:` and `literal:` references (synchronously).
    pub fn resolve_now(&self, reference: &SecretRef) -> Result<Secret, SecretError> {
        match reference {
            // The same refusal as parse_for, for a resolver called with a reference that did
            // not come through it: the process's own credentials are never a header value.
            SecretRef::Env(name)
                if name.to_ascii_uppercase().starts_with("AWS_")
                    || !name.starts_with(graphetl_core::spec::SECRET_ENV_PREFIX) =>
            {
                Err(SecretError::new(
                    SecretErrorKind::Refused,
                    format!(
                        "env:{name} is refused: only variables named {}* can be read",
                        graphetl_core::spec::SECRET_ENV_PREFIX
                    ),
                ))
            }
            SecretRef::Env(name) => (self.lookup)(name).map(Secret).ok_or_else(|| {
                SecretError::new(
                    SecretErrorKind::NotFound,
                    format!("environment variable {name} is not set"),
                )
            }),
            SecretRef::Literal(value) => Ok(Secret(value.clone())),
            other => Err(SecretError::new(
                SecretErrorKind::NotFound,
                format!(
                    "{} needs the AWS secret resolver (graphetl-extract feature \"aws\")",
                    other.describe()
                ),
            )),
        }
    }
}

impl SecretResolver for LocalSecrets {
    async fn resolve(&self, reference: &SecretRef) -> Result<Secret, SecretError> {
        self.resolve_now(reference)
    }
}

#[cfg(feature = "aws")]
pub mod aws {
    //! SSM Parameter Store and Secrets Manager lookups (feature `aws`), plus the local kinds.

    use aws_sdk_secretsmanager::error::ProvideErrorMetadata;

    use super::{LocalSecrets, Secret, SecretError, SecretErrorKind, SecretRef, SecretResolver};

    /// Resolves every reference kind: `ssm:` with `GetParameter` (decrypted), `secretsmanager:`
    /// with `GetSecretValue` (`SecretString`), `env:` and `literal:` locally.
    #[derive(Debug, Clone)]
    pub struct AwsSecrets {
        ssm: aws_sdk_ssm::Client,
        secrets: aws_sdk_secretsmanager::Client,
        local: LocalSecrets,
    }

    fn classify(code: Option<&str>, what: &str, message: String) -> SecretError {
        let kind = match code {
            Some(
                "ParameterNotFound" | "ResourceNotFoundException" | "ParameterVersionNotFound",
            ) => SecretErrorKind::NotFound,
            Some("AccessDeniedException" | "AccessDenied" | "UnrecognizedClientException") => {
                SecretErrorKind::AccessDenied
            }
            Some("InvalidKeyId" | "DecryptionFailure" | "InvalidRequestException") => {
                SecretErrorKind::AccessDenied
            }
            _ => SecretErrorKind::Unavailable,
        };
        SecretError::new(kind, format!("{what}: {message}"))
    }

    impl AwsSecrets {
        /// Builds the clients from an SDK configuration.
        pub fn new(config: &aws_config::SdkConfig) -> AwsSecrets {
            AwsSecrets {
                ssm: aws_sdk_ssm::Client::new(config),
                secrets: aws_sdk_secretsmanager::Client::new(config),
                local: LocalSecrets::from_env(),
            }
        }
    }

    impl SecretResolver for AwsSecrets {
        async fn resolve(&self, reference: &SecretRef) -> Result<Secret, SecretError> {
            let what = reference.describe();
            match reference {
                SecretRef::Ssm(name) => {
                    let out = self
                        .ssm
                        .get_parameter()
                        .name(name)
                        .with_decryption(true)
                        .send()
                        .await
                        .map_err(|e| {
                            let code = e.code().map(str::to_owned);
                            let message = e.message().unwrap_or("request failed").to_owned();
                            classify(code.as_deref(), &what, message)
                        })?;
                    out.parameter.and_then(|p| p.value).map(Secret::new).ok_or_else(|| {
                        SecretError::new(SecretErrorKind::NotFound, format!("{what} has no value"))
                    })
                }
                SecretRef::SecretsManager(id) => {
                    let out = self.secrets.get_secret_value().secret_id(id).send().await.map_err(
                        |e| {
                            let code = e.code().map(str::to_owned);
                            let message = e.message().unwrap_or("request failed").to_owned();
                            classify(code.as_deref(), &what, message)
                        },
                    )?;
                    out.secret_string.map(Secret::new).ok_or_else(|| {
                        SecretError::new(
                            SecretErrorKind::NotFound,
                            format!(
                                "{what} has no SecretString (binary secrets are not supported)"
                            ),
                        )
                    })
                }
                other => self.local.resolve_now(other),
            }
        }
    }
}
