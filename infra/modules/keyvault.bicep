// Key Vault (RBAC mode, soft delete + purge protection) holding the per-connection secrets the app reads with
// SecretClient: each connection's .ionapi file and, on the client-secret path only, its Dataverse client secret.
param name string
param location string
param tags object

@description('Key Vault secrets to create, { "<secret name>": "<value>" }. Names are the ones the connections document uses (cloudsuite.ionapi_secret, dataverse.client_secret_name).')
@secure()
param secrets object

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource vaultSecrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for secret in items(secrets): {
  parent: vault
  name: secret.key
  properties: {
    value: secret.value
    contentType: 'text/plain'
  }
}]

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
