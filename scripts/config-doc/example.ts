/**
 * The hand-written part of `docs/CONFIG.md`: a worked example. Its YAML is loaded through the
 * real config loader by `test/docs/config-doc.test.ts`, so the docs cannot drift from the schema.
 */

/** The `connectors:` block of the example (a test loads it with a hub and a catalog around it). */
export const WORKED_EXAMPLE_YAML = `connectors:
  hubspot:
    type: hubspot
    accessToken: \${env:HUBSPOT_ACCESS_TOKEN}
    webhookSecret: \${env:HUBSPOT_CLIENT_SECRET}
    # A custom property is read only when listed here (reads ask for the listed properties).
    properties: [loyalty_tier]
    mappings:
      # A custom contact property (a dropdown with the internal values GOLD, SILVER, BRONZE),
      # kept in the hub as the attribute loyaltyTier (gold, silver, bronze). The map is
      # one-to-one, so it inverts on pull.
      - field: loyaltyTier
        external: loyalty_tier
        transform:
          - type: map
            values: { gold: GOLD, silver: SILVER, bronze: BRONZE }
  salesforce:
    type: salesforce
    loginUrl: https://login.salesforce.com
    clientId: \${env:SALESFORCE_CLIENT_ID}
    clientSecret: \${env:SALESFORCE_CLIENT_SECRET}
    organizationId: 00D5e000000KQ2eEAG
    outboundMessageToken: \${env:SALESFORCE_OM_TOKEN}
    # Custom fields are read only when listed here (queries select the listed fields).
    fields: [Loyalty_Tier__c, Member_Since__c]
    mappings:
      # A custom field on Contact (a picklist Gold, Silver, Bronze) into the same attribute.
      # direction: pull reads it and never writes it back (HubSpot stays the system that sets it).
      - field: loyaltyTier
        external: Loyalty_Tier__c
        direction: pull
        transform:
          - type: map
            values: { gold: Gold, silver: Silver, bronze: Bronze }
      # A custom date field (YYYY-MM-DD) as an ISO instant in the hub.
      - field: memberSince
        external: Member_Since__c
        transform:
          - { type: date, format: date }
`;

/** The example section, with the YAML above in it. */
export function workedExampleSection(yaml: string): string {
  return `## Worked example: map a custom HubSpot property / Salesforce field

A custom property or field is mapped like a standard one: a \`mappings\` entry names the canonical
target (here the profile attribute \`loyaltyTier\`, any attribute path you choose) and the system's
field name as \`external\`. The entry adds to the connector's default mappings (an entry for a
canonical target the connector already maps replaces the default one).

- HubSpot: \`external\` is the contact property's internal name (Settings > Properties > the
  property > "Internal name"), e.g. \`loyalty_tier\`, not its label. List it under \`properties\` as
  well: reads ask only for the default properties and the listed ones.
- Salesforce: \`external\` is the field's API name on Contact (or Lead), with its \`__c\` suffix,
  e.g. \`Loyalty_Tier__c\`. List it under \`fields\` as well: queries select only the default
  fields and the listed ones. The integration user needs field-level read (and, to push, edit)
  access.

\`\`\`yaml
${yaml.trimEnd()}
\`\`\`

The map translates the hub's values to each system's and back: both maps are one-to-one, so pull
can invert them. A value outside the map fails that field's mapping (reported as a mapping
error, never thrown) unless the map has a \`default\` (push only). \`date\` with \`format: date\`
drops the time of day, so it is not invertible: pulls give midnight UTC. The test
\`test/docs/config-doc.test.ts\` loads this snippet through the config loader.`;
}
