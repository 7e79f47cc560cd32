use super::*;

fn inputs(vars: &[(&str, &str)]) -> CredentialInputs {
    CredentialInputs {
        env: vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        ..Default::default()
    }
}

#[test]
fn client_id_and_secret_should_choose_client_secret() {
    let s = choose(&inputs(&[
        ("AZURE_CLIENT_ID", "app"),
        ("AZURE_CLIENT_SECRET", "s3cret"),
        ("AZURE_TENANT_ID", "t"),
    ]))
    .unwrap();
    assert!(
        matches!(s.credential, CredentialChoice::ClientSecret { ref client_id, .. } if client_id == "app")
    );
    assert!(
        !format!("{s:?}").contains("s3cret"),
        "Debug must not show the secret"
    );
}

#[test]
fn federated_token_file_should_choose_workload_identity() {
    let s = choose(&inputs(&[
        ("AZURE_CLIENT_ID", "app"),
        ("AZURE_TENANT_ID", "t"),
        ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token"),
    ]))
    .unwrap();
    assert_eq!(
        s.credential,
        CredentialChoice::WorkloadIdentity {
            tenant_id: "t".into(),
            client_id: "app".into(),
            token_file: "/var/run/token".into()
        }
    );
}

#[test]
fn nothing_set_should_choose_system_assigned_managed_identity() {
    let s = choose(&inputs(&[])).unwrap();
    assert_eq!(
        s.credential,
        CredentialChoice::ManagedIdentity { client_id: None }
    );
    assert_eq!(s.cloud, Cloud::Public);
}

#[test]
fn user_identity_should_choose_user_assigned_managed_identity() {
    let s = choose(&inputs(&[("VIRTUALNODE_USER_IDENTITY_CLIENTID", "uid")])).unwrap();
    assert_eq!(
        s.credential,
        CredentialChoice::ManagedIdentity {
            client_id: Some("uid".into())
        }
    );
}

#[test]
fn azure_token_credentials_dev_should_choose_the_cli() {
    let s = choose(&inputs(&[("AZURE_TOKEN_CREDENTIALS", "dev")])).unwrap();
    assert_eq!(s.credential, CredentialChoice::AzureCli);
    assert!(choose(&inputs(&[("AZURE_TOKEN_CREDENTIALS", "Bogus")])).is_err());
}

#[test]
fn aks_file_should_replace_the_auth_file_and_set_the_cloud() {
    let mut i = inputs(&[]);
    i.auth_file = Some(AuthFile {
        client_id: Some("from-auth".into()),
        client_secret: Some("x".into()),
        tenant_id: Some("t1".into()),
        ..Default::default()
    });
    i.aks_file = Some(AksCredentialFile {
        cloud: "AzureUSGovernmentCloud".into(),
        aad_client_id: Some("MSI".into()),
        user_assigned_identity_id: Some("kubelet-id".into()),
        resource_group: Some("rg".into()),
        location: Some("usgovvirginia".into()),
        subscription_id: Some("sub".into()),
        vnet_name: Some("aks-vnet".into()),
        vnet_resource_group: Some("MC_rg".into()),
        ..Default::default()
    });
    let s = choose(&i).unwrap();
    assert_eq!(s.vnet_name.as_deref(), Some("aks-vnet"));
    assert_eq!(s.vnet_resource_group.as_deref(), Some("MC_rg"));
    assert_eq!(s.cloud, Cloud::UsGovernment);
    assert_eq!(
        s.cloud.scope(),
        "https://management.usgovcloudapi.net/.default"
    );
    assert_eq!(s.resource_group.as_deref(), Some("rg"));
    assert_eq!(s.subscription_id.as_deref(), Some("sub"));
    assert_eq!(
        s.credential,
        CredentialChoice::ManagedIdentity {
            client_id: Some("kubelet-id".into())
        }
    );
}

#[test]
fn environment_should_override_files_and_missing_placeholders_count_as_empty() {
    let mut i = inputs(&[
        ("AZURE_CLIENT_SECRET", "env-secret"),
        ("AZURE_TENANT_ID", "t"),
    ]);
    i.auth_file = Some(AuthFile {
        client_id: Some("app".into()),
        client_secret: Some("MISSING".into()),
        tenant_id: Some("MISSING".into()),
        ..Default::default()
    });
    let s = choose(&i).unwrap();
    assert!(
        matches!(s.credential, CredentialChoice::ClientSecret { ref secret, ref tenant_id, .. } if secret.secret() == "env-secret" && tenant_id == "t")
    );
}

#[test]
fn unknown_aks_cloud_should_be_an_error_not_a_panic() {
    let mut i = inputs(&[]);
    i.aks_file = Some(AksCredentialFile::default());
    assert!(matches!(choose(&i), Err(CredentialError::UnknownCloud(_))));
}

#[test]
fn utf16_files_with_a_bom_should_decode() {
    let text = "{\"a\":1}";
    let mut le = vec![0xFF, 0xFE];
    le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let mut be = vec![0xFE, 0xFF];
    be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    assert_eq!(decode_text(&le).as_deref(), Some(text));
    assert_eq!(decode_text(&be).as_deref(), Some(text));
    assert_eq!(decode_text(b"\xEF\xBB\xBF{}").as_deref(), Some("{}"));
}

#[tokio::test(start_paused = true)]
async fn a_fixed_token_should_be_returned_as_is() {
    let c = ArmCredential::fixed("tok");
    assert_eq!(c.token().await.unwrap().secret(), "tok");
    assert!(!format!("{c:?}").contains("tok\""));
}
