/**
 * The objects the emulator knows and their fields: Contact, Lead and the consent data model
 * (Individual, ContactPointTypeConsent, DataUsePurpose), as in Salesforce's object reference.
 * https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_contactpointtypeconsent.htm
 */

export type FieldType = 'id' | 'string' | 'email' | 'phone' | 'boolean' | 'datetime' | 'reference' | 'picklist' | 'textarea' | 'anyType';

export interface FieldDef {
  name: string;
  type: FieldType;
  /** Required on create (Salesforce: not nillable, not defaulted). */
  required?: boolean;
  /** Written by the system only. */
  readOnly?: boolean;
  /** Picklist values (restricted picklist). */
  values?: readonly string[];
  /** The object a reference points to. */
  referenceTo?: string;
  /** Custom external id field (usable for upserts). */
  externalId?: boolean;
  /** Value on create when none is given. */
  defaultValue?: string | boolean;
}

export interface ObjectDef {
  name: string;
  /** The 3-character key prefix of its ids. */
  keyPrefix: string;
  fields: FieldDef[];
  /** A history object (`ContactHistory`): rows written by the org itself, never by the API. */
  readOnly?: boolean;
}

/** The objects whose fields Field History Tracking can follow here. */
const TRACKABLE_OBJECTS = ['Contact', 'Lead'] as const;
type TrackableObject = (typeof TRACKABLE_OBJECTS)[number];

/**
 * The history object of a tracked object (`ContactHistory`, `LeadHistory`): one row per change
 * of a tracked field, and a `created` row per new record; read-only.
 * https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_contacthistory.htm
 */
function historyObject(parent: TrackableObject): ObjectDef {
  return {
    name: `${parent}History`,
    keyPrefix: '017',
    readOnly: true,
    fields: [
      { name: 'Id', type: 'id', readOnly: true },
      { name: 'IsDeleted', type: 'boolean', readOnly: true },
      { name: `${parent}Id`, type: 'reference', readOnly: true, referenceTo: parent },
      { name: 'CreatedById', type: 'reference', readOnly: true, referenceTo: 'User' },
      { name: 'CreatedDate', type: 'datetime', readOnly: true },
      { name: 'Field', type: 'picklist', readOnly: true },
      { name: 'DataType', type: 'picklist', readOnly: true },
      { name: 'OldValue', type: 'anyType', readOnly: true },
      { name: 'NewValue', type: 'anyType', readOnly: true },
    ],
  };
}

const SYSTEM: FieldDef[] = [
  { name: 'Id', type: 'id', readOnly: true },
  { name: 'IsDeleted', type: 'boolean', readOnly: true },
  { name: 'CreatedDate', type: 'datetime', readOnly: true },
  { name: 'CreatedById', type: 'reference', readOnly: true, referenceTo: 'User' },
  { name: 'LastModifiedDate', type: 'datetime', readOnly: true },
  { name: 'LastModifiedById', type: 'reference', readOnly: true, referenceTo: 'User' },
  { name: 'SystemModstamp', type: 'datetime', readOnly: true },
];

const CONTACT_POINT_TYPES = ['Email', 'MailingAddress', 'Phone', 'Social', 'Web'] as const;

const PERSON: FieldDef[] = [
  { name: 'FirstName', type: 'string' },
  { name: 'LastName', type: 'string', required: true },
  { name: 'Email', type: 'email' },
  { name: 'Phone', type: 'phone' },
  { name: 'MobilePhone', type: 'phone' },
  { name: 'HasOptedOutOfEmail', type: 'boolean', defaultValue: false },
  { name: 'DoNotCall', type: 'boolean', defaultValue: false },
  { name: 'HasOptedOutOfFax', type: 'boolean', defaultValue: false },
  { name: 'IndividualId', type: 'reference', referenceTo: 'Individual' },
];

/**
 * Builds the org's objects; `externalIdFields` are added to Contact and Lead, and the history
 * object of Contact and Lead when `trackedFields` names any field (Field History Tracking on).
 */
export function buildObjects(externalIdFields: readonly string[], trackedFields: readonly string[] = []): Map<string, ObjectDef> {
  const custom: FieldDef[] = externalIdFields.map((name) => ({ name, type: 'string', externalId: true }));
  const objects: ObjectDef[] = [
    {
      name: 'Contact',
      keyPrefix: '003',
      fields: [...SYSTEM, ...PERSON, { name: 'MailingCountry', type: 'string' }, { name: 'Title', type: 'string' }, ...custom],
    },
    {
      name: 'Lead',
      keyPrefix: '00Q',
      fields: [
        ...SYSTEM,
        ...PERSON,
        { name: 'Company', type: 'string', required: true },
        { name: 'Country', type: 'string' },
        {
          name: 'Status',
          type: 'picklist',
          values: ['Open - Not Contacted', 'Working - Contacted', 'Closed - Converted', 'Closed - Not Converted'],
          defaultValue: 'Open - Not Contacted',
        },
        ...custom,
      ],
    },
    {
      name: 'Individual',
      keyPrefix: '0PK',
      fields: [
        ...SYSTEM,
        { name: 'FirstName', type: 'string' },
        { name: 'LastName', type: 'string', required: true },
        { name: 'HasOptedOutProcessing', type: 'boolean', defaultValue: false },
        { name: 'HasOptedOutProfiling', type: 'boolean', defaultValue: false },
        { name: 'HasOptedOutSolicit', type: 'boolean', defaultValue: false },
        { name: 'HasOptedOutTracking', type: 'boolean', defaultValue: false },
        { name: 'ShouldForget', type: 'boolean', defaultValue: false },
        { name: 'SendIndividualData', type: 'boolean', defaultValue: false },
        { name: 'CanStorePiiElsewhere', type: 'boolean', defaultValue: false },
      ],
    },
    {
      name: 'ContactPointTypeConsent',
      keyPrefix: '0ZY',
      fields: [
        ...SYSTEM,
        { name: 'Name', type: 'string', required: true },
        { name: 'PartyId', type: 'reference', referenceTo: 'Individual', required: true },
        { name: 'ContactPointType', type: 'picklist', values: CONTACT_POINT_TYPES, required: true },
        { name: 'DataUsePurposeId', type: 'reference', referenceTo: 'DataUsePurpose' },
        { name: 'PrivacyConsentStatus', type: 'picklist', values: ['OptIn', 'OptOut', 'Seen', 'NotSeen'], defaultValue: 'NotSeen' },
        { name: 'CaptureContactPointType', type: 'picklist', values: CONTACT_POINT_TYPES },
        { name: 'CaptureDate', type: 'datetime' },
        { name: 'CaptureSource', type: 'string' },
        { name: 'EffectiveFrom', type: 'datetime' },
        { name: 'EffectiveTo', type: 'datetime' },
        { name: 'DoubleConsentCaptureDate', type: 'datetime' },
      ],
    },
    {
      name: 'DataUsePurpose',
      keyPrefix: '0ZW',
      fields: [
        ...SYSTEM,
        { name: 'Name', type: 'string', required: true },
        { name: 'Description', type: 'textarea' },
        { name: 'CanDataSubjectOptOut', type: 'boolean', defaultValue: true },
      ],
    },
  ];
  if (trackedFields.length > 0) objects.push(...TRACKABLE_OBJECTS.map(historyObject));
  return new Map(objects.map((o) => [o.name, o]));
}

/** Finds a field by name, case-insensitively (Salesforce field names are). */
export function findField(object: ObjectDef, name: string): FieldDef | undefined {
  const lower = name.toLowerCase();
  return object.fields.find((f) => f.name.toLowerCase() === lower);
}

/** Salesforce's labels of the standard fields the emulator knows (per object where they differ). */
const LABELS: Record<string, string> = {
  IsDeleted: 'Deleted',
  CreatedDate: 'Created Date',
  CreatedById: 'Created By ID',
  LastModifiedDate: 'Last Modified Date',
  LastModifiedById: 'Last Modified By ID',
  SystemModstamp: 'System Modstamp',
  FirstName: 'First Name',
  LastName: 'Last Name',
  HasOptedOutOfEmail: 'Email Opt Out',
  DoNotCall: 'Do Not Call',
  HasOptedOutOfFax: 'Fax Opt Out',
  IndividualId: 'Individual ID',
  MailingCountry: 'Mailing Country',
  HasOptedOutProcessing: "Don't Process",
  HasOptedOutProfiling: "Don't Profile",
  HasOptedOutSolicit: "Don't Solicit",
  HasOptedOutTracking: "Don't Track",
  ShouldForget: 'Forget this Individual',
  SendIndividualData: "Export Individual's Data",
  CanStorePiiElsewhere: 'OK to Store PII Data Elsewhere',
  Name: 'Name',
  PartyId: 'Party ID',
  ContactPointType: 'Contact Point Type',
  DataUsePurposeId: 'Data Use Purpose ID',
  PrivacyConsentStatus: 'Privacy Consent Status',
  CaptureContactPointType: 'Capture Contact Point Type',
  CaptureDate: 'Capture Date',
  CaptureSource: 'Capture Source',
  EffectiveFrom: 'Effective From',
  EffectiveTo: 'Effective To',
  DoubleConsentCaptureDate: 'Double Consent Capture Date',
  CanDataSubjectOptOut: 'Can Data Subject Opt Out',
};

/** A field's label: Salesforce's for standard fields, the API name without `__c` and underscores for custom ones. */
function labelOf(object: ObjectDef, field: FieldDef): string {
  if (field.name === 'Id') return `${object.name} ID`;
  if (object.name === 'Contact' && field.name === 'Phone') return 'Business Phone';
  return LABELS[field.name] ?? field.name.replace(/__c$/, '').replaceAll('_', ' ');
}

/** The describe result of an object (the subset jsforce and the connector read). */
export function describeObject(object: ObjectDef, security: Readonly<Record<string, 'hidden' | 'readOnly'>> = {}): Record<string, unknown> {
  const access = (f: FieldDef) => security[`${object.name}.${f.name}`];
  return {
    name: object.name,
    label: object.name.replace(/(?<=[a-z])(?=[A-Z])/g, ' '),
    keyPrefix: object.keyPrefix,
    createable: object.readOnly !== true,
    updateable: object.readOnly !== true,
    deletable: object.readOnly !== true,
    queryable: true,
    fields: object.fields
      .filter((f) => access(f) !== 'hidden')
      .map((f) => ({ ...f, readOnly: f.readOnly === true || access(f) === 'readOnly' }))
      .map((f) => ({
        name: f.name,
        label: labelOf(object, f),
        type: f.type,
        externalId: f.externalId ?? false,
        idLookup: f.type === 'id' || (f.externalId ?? false),
        nillable: !f.required && f.type !== 'boolean' && !f.readOnly,
        createable: !f.readOnly,
        updateable: !f.readOnly,
        defaultedOnCreate: f.defaultValue !== undefined || f.readOnly === true,
        referenceTo: f.referenceTo ? [f.referenceTo] : [],
        picklistValues: (f.values ?? []).map((value) => ({ value, label: value, active: true, defaultValue: value === f.defaultValue })),
      })),
    urls: { sobject: `/services/data/vXX.X/sobjects/${object.name}` },
  };
}
