// The operations workbook (infra/monitoring/workbook.json, generated from infra/monitoring/queries/workbook-*.kql
// by infra/monitoring/build_workbook.py), bound to the app's Application Insights.
param workbookId string
param displayName string
param location string
param tags object
param appInsightsId string

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: workbookId
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    version: 'Notebook/1.0'
    sourceId: appInsightsId
    serializedData: replace(loadTextContent('../monitoring/workbook.json'), '__APP_INSIGHTS_ID__', appInsightsId)
  }
}

output id string = workbook.id
