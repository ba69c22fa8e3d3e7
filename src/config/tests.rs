//! Unit tests of the settings layers, the secret type and the endpoint checks.

use super::*;

#[test]
fn secret_debug_hides_the_value() {
    let s = Secret::new("hunter2-partner-key");
    let shown = format!("{s:?} {:?}", Some(s.clone()));
    assert!(!shown.contains("hunter2"), "{shown}");
    assert_eq!(s.expose(), "hunter2-partner-key");
}

#[test]
fn http_only_to_loopback() {
    assert!(endpoint("u", "https://sg-credit.apitd.net/x").is_ok());
    assert!(endpoint("u", "http://127.0.0.1:8080/x").is_ok());
    assert!(endpoint("u", "http://127.9.9.9/x").is_ok());
    assert!(endpoint("u", "http://[::1]:9/x").is_ok());
    assert!(endpoint("u", "http://localhost/x").is_ok());
    let err = endpoint("u", "http://sg-credit.apitd.net/x").unwrap_err();
    assert!(matches!(err, ConfigError::InsecureUrl { .. }), "{err}");
    assert!(endpoint("u", "http://10.0.0.1/x").is_err());
    assert!(endpoint("u", "ftp://example.com/x").is_err());
    assert!(endpoint("u", "not a url").is_err());
    assert!(matches!(
        endpoint("u", "https://h/x?partner_key=abc").unwrap_err(),
        ConfigError::UrlHasQuery { .. }
    ));
}

#[test]
fn flags_win_over_env_over_file() {
    let file = FileConfig {
        partner_code: Some("from-file".into()),
        result_url: Some("https://file.example/r".into()),
        db: Some("file.db".into()),
        ..FileConfig::default()
    };
    let mut layers = Layers::new(FlagValues::default(), file);
    layers.env = |name| match name {
        "TD_PARTNER_CODE" => Some("from-env".into()),
        "TD_PARTNER_KEY" => Some("env-partner-key".into()),
        _ => None,
    };
    let v = layers.vendor(crate::config::Endpoint::Result).unwrap();
    assert_eq!(v.partner_code, "from-env");
    assert_eq!(v.result_url.unwrap().as_str(), "https://file.example/r");
    assert_eq!(layers.db(), PathBuf::from("file.db"));
    layers.flags.partner_code = Some("from-flag".into());
    assert_eq!(
        layers
            .vendor(crate::config::Endpoint::Result)
            .unwrap()
            .partner_code,
        "from-flag"
    );
}

#[test]
fn rate_is_a_number_or_auto_from_flag_env_or_file() {
    assert_eq!("auto".parse(), Ok(RateValue::Auto));
    assert_eq!(" AUTO ".parse(), Ok(RateValue::Auto));
    assert_eq!("70".parse(), Ok(RateValue::PerSec(70)));
    assert_eq!("70/s".parse(), Ok(RateValue::PerSec(70)));
    assert_eq!("0".parse(), Ok(RateValue::PerSec(0)));
    for bad in ["fast", "-1", "1.5", ""] {
        let err = bad.parse::<RateValue>().unwrap_err().to_string();
        assert!(err.contains("auto") && err.contains("per second"), "{err}");
    }
    let file: FileConfig = toml::from_str("rate = \"auto\"").unwrap();
    let mut layers = Layers::new(FlagValues::default(), file);
    layers.env = |_| None;
    let default = RateValue::PerSec(10);
    assert_eq!(layers.rate(None, default).unwrap(), RateValue::Auto);
    assert_eq!(
        layers.rate(Some(RateValue::PerSec(5)), default).unwrap(),
        RateValue::PerSec(5)
    );
    layers.env = |name| (name == "LIVEAUDIT_RATE").then(|| "40".to_string());
    assert_eq!(layers.rate(None, default).unwrap(), RateValue::PerSec(40));
    let file: FileConfig = toml::from_str("rate = 25").unwrap();
    let mut layers = Layers::new(FlagValues::default(), file);
    layers.env = |_| None;
    assert_eq!(layers.rate(None, default).unwrap(), RateValue::PerSec(25));
    let file: FileConfig = toml::from_str("rate = \"quick\"").unwrap();
    let mut layers = Layers::new(FlagValues::default(), file);
    layers.env = |_| None;
    let err = layers.rate(None, default).unwrap_err().to_string();
    assert!(
        err.contains("rate in the config file") && err.contains("quick"),
        "{err}"
    );
}

#[test]
fn missing_settings_are_named() {
    let mut layers = Layers::new(FlagValues::default(), FileConfig::default());
    layers.env = |_| None;
    let err = layers
        .vendor(crate::config::Endpoint::Result)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("partner code") && err.contains("TD_PARTNER_CODE"),
        "{err}"
    );
    layers.env = |name| (name == "TD_PARTNER_CODE").then(|| "c".to_string());
    let err = layers
        .vendor(crate::config::Endpoint::Result)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("partner key") && err.contains("--partner-key-file"),
        "{err}"
    );
    layers.env = |name| match name {
        "TD_PARTNER_CODE" => Some("x".into()),
        "TD_PARTNER_KEY" => Some("env-partner-key".into()),
        _ => None,
    };
    let err = layers
        .vendor(crate::config::Endpoint::Result)
        .unwrap_err()
        .to_string();
    assert!(err.contains("TD_RESULT_URL"), "{err}");
}

fn accounts_file() -> FileConfig {
    toml::from_str(
        r#"
        tz = "UTC"
        [accounts.id-app]
        partner_code = "acme-id"
        result_url = "https://id.example/r"
        tz = "Asia/Jakarta"
        rate = 20
        [accounts.ph-app]
        partner_code = "acme-ph"
        result_url = "https://ph.example/r"
        "#,
    )
    .unwrap()
}

/// [`accounts_file`] with a key file for every account, in `dir`.
fn accounts_file_with_keys(dir: &Path) -> FileConfig {
    let mut file = accounts_file();
    for (name, account) in &mut file.accounts {
        let path = dir.join(format!("{name}.key"));
        std::fs::write(&path, format!("key-of-{name}\n")).unwrap();
        account.partner_key_file = Some(path);
    }
    file
}

#[test]
fn an_account_section_beats_the_environment_and_the_top_level() {
    let dir = tempfile::tempdir().unwrap();
    let mut layers = Layers::new(
        FlagValues {
            account: Some("id-app".into()),
            ..FlagValues::default()
        },
        accounts_file_with_keys(dir.path()),
    );
    layers.env = |name| match name {
        "TD_PARTNER_CODE" => Some("from-env".into()),
        "TD_PARTNER_KEY" => Some("env-partner-key".into()),
        "TD_RESULT_URL" => Some("https://env.example/r".into()),
        _ => None,
    };
    let v = layers.vendor(crate::config::Endpoint::Result).unwrap();
    assert_eq!(v.partner_code, "acme-id");
    assert_eq!(v.partner_key.expose(), "key-of-id-app");
    assert_eq!(v.account.name.as_deref(), Some("id-app"));
    assert_eq!(v.endpoint_host().as_deref(), Some("id.example"));
    assert_eq!(layers.tz(None), "Asia/Jakarta");
    assert_eq!(layers.tz(Some("Europe/Paris")), "Europe/Paris");
    assert_eq!(
        layers.rate(None, RateValue::PerSec(1)).unwrap(),
        RateValue::PerSec(20)
    );
    layers.flags.result_url = Some("https://flag.example/r".into());
    let v = layers.vendor(crate::config::Endpoint::Result).unwrap();
    assert_eq!(v.result_url.unwrap().host_str(), Some("flag.example"));
}

#[test]
fn several_accounts_need_a_choice_and_unknown_names_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let mut layers = Layers::new(FlagValues::default(), accounts_file_with_keys(dir.path()));
    layers.env = |name| (name == "TD_PARTNER_KEY").then(|| "env-partner-key".to_string());
    let err = layers
        .vendor(crate::config::Endpoint::Result)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("id-app, ph-app") && err.contains("--account"),
        "{err}"
    );
    layers.flags.account = Some("uk-app".into());
    let err = layers
        .vendor(crate::config::Endpoint::Result)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("uk-app") && err.contains("id-app, ph-app"),
        "{err}"
    );
    layers.flags.account = None;
    layers.flags.partner_code = Some("acme-ph".into());
    layers.flags.result_url = Some("https://flag.example/r".into());
    let v = layers.vendor(crate::config::Endpoint::Result).unwrap();
    assert_eq!(
        (v.account.name.as_deref(), v.partner_code.as_str()),
        (Some("ph-app"), "acme-ph"),
        "a bare partner code the file names is labelled with its name"
    );
    layers.flags.result_url = None;
    layers.flags.account = Some("ph-app".into());
    layers.flags.partner_code = Some("acme-id".into());
    let err = layers.vendor(crate::config::Endpoint::Result).unwrap_err();
    assert!(matches!(err, ConfigError::AccountConflict { .. }), "{err}");
    layers.flags.partner_code = Some("acme-ph".into());
    assert_eq!(
        layers
            .vendor(crate::config::Endpoint::Result)
            .unwrap()
            .partner_code,
        "acme-ph"
    );
}

#[test]
fn a_single_named_account_is_used_without_a_flag() {
    let file: FileConfig = toml::from_str(
        "[accounts.only]\npartner_code = \"p1\"\nresult_url = \"https://only.example/r\"",
    )
    .unwrap();
    let mut layers = Layers::new(FlagValues::default(), file);
    layers.env = |_| None;
    layers.flags.partner_key_file = Some(key_file_for_flag());
    let v = layers.vendor(crate::config::Endpoint::Result).unwrap();
    assert_eq!(v.account.name.as_deref(), Some("only"));
    assert_eq!(v.partner_code, "p1");
}

/// A key file given as `--partner-key-file` (kept for the test process's life).
fn key_file_for_flag() -> PathBuf {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "flag-key\n").unwrap();
    file.into_temp_path().keep().unwrap()
}

#[test]
fn a_named_account_never_takes_its_key_or_endpoints_from_the_environment() {
    let file: FileConfig = toml::from_str(
        "result_url = \"https://shared.example/r\"\npartner_key_file = \"/nonexistent\"\n\
         [accounts.bare]\npartner_code = \"p1\"",
    )
    .unwrap();
    let mut layers = Layers::new(
        FlagValues {
            account: Some("bare".into()),
            ..FlagValues::default()
        },
        file,
    );
    layers.env = |name| match name {
        "TD_PARTNER_KEY" => Some("someone-elses-key".into()),
        "TD_RESULT_URL" => Some("https://someone-else.example/r".into()),
        "TD_LICENSE_URL" => Some("https://someone-else.example/l".into()),
        _ => None,
    };
    let err = layers.vendor(crate::config::Endpoint::Result).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::AccountMissing {
                key: "partner_key_file",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("[accounts.bare]"), "{err}");
    layers.flags.partner_key_file = Some(key_file_for_flag());
    // An endpoint several accounts share may sit at the top level; the environment's is not read.
    let v = layers.vendor(crate::config::Endpoint::Result).unwrap();
    assert_eq!(v.result_url.unwrap().host_str(), Some("shared.example"));
    assert_eq!(v.partner_key.expose(), "flag-key");
    let err = layers.vendor(crate::config::Endpoint::License).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::AccountMissing {
                key: "license_url",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn report_account_names_resolve_to_partner_codes() {
    let layers = Layers::new(FlagValues::default(), accounts_file());
    assert_eq!(layers.account_ref("ph-app").partner_code, "acme-ph");
    assert_eq!(layers.account_ref("acme-id").label(), "id-app");
    let stranger = layers.account_ref("unknown");
    assert_eq!(
        (stranger.name, stranger.partner_code.as_str()),
        (None, "unknown")
    );
}

#[test]
fn account_sections_are_checked_and_never_hold_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[accounts.a]\nresult_url = \"https://x/r\"",
            "partner_code is missing",
        ),
        (
            "[accounts.a]\npartner_code = \"p\"\n[accounts.b]\npartner_code = \"p\"",
            "share partner_code",
        ),
        ("[accounts.a]\npartner_code = \"unknown\"", "reserved"),
        ("[accounts.unknown]\npartner_code = \"p\"", "reserved"),
        (
            "[accounts.b]\npartner_code = \"p\"\ntz = \"Mars/Base\"",
            "tz in [accounts.b]: \"Mars/Base\" is not a time zone",
        ),
        (
            "[accounts.b]\npartner_code = \"p\"\nrate = \"fast\"",
            "rate in [accounts.b]: \"fast\" is not a rate",
        ),
        (
            "tz = \"Nowhere\"",
            "tz in the config file: \"Nowhere\" is not a time zone",
        ),
        (
            "[accounts.pc-b]\npartner_code = \"pc-a\"\n[accounts.x]\npartner_code = \"pc-b\"",
            "could mean either",
        ),
        ("[accounts.\"a b\"]\npartner_code = \"p\"", "account name"),
        (
            "[accounts.\"..\"]\npartner_code = \"p\"",
            "not . or .. alone",
        ),
        (
            "[accounts.\".\"]\npartner_code = \"p\"",
            "not . or .. alone",
        ),
        (
            "[accounts.a]\npartner_code = \"p\"\npartner_key = \"s3cret\"",
            "partner_key is not accepted",
        ),
        (
            "[accounts.a]\npartner_code = \"p\"\ncolour = 1",
            "unknown field",
        ),
    ];
    for (text, expected) in cases {
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        let err = FileConfig::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains(expected), "{text}: {err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "[accounts.a]\npartner_code = \"p\"\nprices = \"p.toml\"",
    )
    .unwrap();
    let cfg = FileConfig::load(Some(&path)).unwrap();
    assert_eq!(cfg.accounts["a"].prices, Some(dir.path().join("p.toml")));
}

#[test]
fn each_account_of_a_report_has_its_own_zone_and_prices() {
    let mut file = accounts_file();
    file.prices = Some("/top.toml".into());
    if let Some(a) = file.accounts.get_mut("ph-app") {
        a.prices = Some("/ph.toml".into());
    }
    let mut layers = Layers::new(FlagValues::default(), file);
    layers.env = |_| None;
    let id = layers.account_of_code("acme-id");
    let ph = layers.account_of_code("acme-ph");
    let stranger = layers.account_of_code("unknown");
    assert_eq!(id.label(), "id-app");
    assert_eq!(stranger.label(), "unknown");
    assert_eq!(layers.tz_of(&id, None), "Asia/Jakarta");
    assert_eq!(layers.tz_of(&ph, None), "UTC", "the top level");
    assert_eq!(layers.tz_of(&stranger, None), "UTC");
    assert_eq!(layers.tz_of(&id, Some("Europe/Paris")), "Europe/Paris");
    assert_eq!(layers.prices_of(&ph, None), Some("/ph.toml".into()));
    assert_eq!(layers.prices_of(&id, None), Some("/top.toml".into()));
    assert_eq!(
        layers.prices_of(&id, Some(Path::new("/flag.toml"))),
        Some("/flag.toml".into())
    );
}

/// A key too short to be one, or holding control characters, is refused from either source
/// with what is wrong and never the value itself (a short key would also be blanked out of
/// every text the program writes).
#[test]
fn a_key_too_short_or_with_control_characters_is_refused_from_file_and_environment() {
    let mut layers = Layers::new(
        FlagValues {
            partner_code: Some("code".into()),
            ..FlagValues::default()
        },
        FileConfig::default(),
    );
    layers.env = |name| (name == "TD_PARTNER_KEY").then(|| " abc ".to_string());
    let err = layers.partner_key(None).unwrap_err().to_string();
    assert!(
        err.contains("TD_PARTNER_KEY") && err.contains("3 character(s)") && !err.contains("abc"),
        "{err}"
    );
    layers.env = |name| (name == "TD_PARTNER_KEY").then(|| "long-enough\u{1b}key".to_string());
    let err = layers.partner_key(None).unwrap_err().to_string();
    assert!(err.contains("control characters"), "{err}");
    layers.env = |name| (name == "TD_PARTNER_KEY").then(|| "12345678".to_string());
    assert_eq!(layers.partner_key(None).unwrap().expose(), "12345678");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.key");
    std::fs::write(&path, "k\n").unwrap();
    layers.flags.partner_key_file = Some(path.clone());
    let err = layers.partner_key(None).unwrap_err().to_string();
    assert!(
        err.contains(&path.display().to_string()) && err.contains("1 character(s)"),
        "{err}"
    );
}
