/* Names of the MS-ASWBXML code pages and of their tags, for the XML
 * rendering (protocol log, tests, tools) and for looking a tag up by name.
 * The tables follow activesync/wbxml-tags.h entry for entry. */
#include "wbxml.h"

#include <string.h>

#define TOKEN_FIRST 0x05
#define TOKEN_LAST  0x3f
#define PAGE_TOKENS (TOKEN_LAST - TOKEN_FIRST + 1)

struct wbxml_page_names {
	const char *name;
	const char *const *tags; /* indexed by token - TOKEN_FIRST */
};

static const char *const page_airsync[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "Sync",
    [0x06 - TOKEN_FIRST] = "Responses",
    [0x07 - TOKEN_FIRST] = "Add",
    [0x08 - TOKEN_FIRST] = "Change",
    [0x09 - TOKEN_FIRST] = "Delete",
    [0x0A - TOKEN_FIRST] = "Fetch",
    [0x0B - TOKEN_FIRST] = "SyncKey",
    [0x0C - TOKEN_FIRST] = "ClientId",
    [0x0D - TOKEN_FIRST] = "ServerId",
    [0x0E - TOKEN_FIRST] = "Status",
    [0x0F - TOKEN_FIRST] = "Collection",
    [0x10 - TOKEN_FIRST] = "Class",
    [0x12 - TOKEN_FIRST] = "CollectionId",
    [0x13 - TOKEN_FIRST] = "GetChanges",
    [0x14 - TOKEN_FIRST] = "MoreAvailable",
    [0x15 - TOKEN_FIRST] = "WindowSize",
    [0x16 - TOKEN_FIRST] = "Commands",
    [0x17 - TOKEN_FIRST] = "Options",
    [0x18 - TOKEN_FIRST] = "FilterType",
    [0x19 - TOKEN_FIRST] = "Truncation",
    [0x1A - TOKEN_FIRST] = "RTFTruncation",
    [0x1B - TOKEN_FIRST] = "Conflict",
    [0x1C - TOKEN_FIRST] = "Collections",
    [0x1D - TOKEN_FIRST] = "ApplicationData",
    [0x1E - TOKEN_FIRST] = "DeletesAsMoves",
    [0x1F - TOKEN_FIRST] = "NotifyGUID",
    [0x20 - TOKEN_FIRST] = "Supported",
    [0x21 - TOKEN_FIRST] = "SoftDelete",
    [0x22 - TOKEN_FIRST] = "MIMESupport",
    [0x23 - TOKEN_FIRST] = "MIMETruncation",
    [0x24 - TOKEN_FIRST] = "Wait",
    [0x25 - TOKEN_FIRST] = "Limit",
    [0x26 - TOKEN_FIRST] = "Partial",
    [0x27 - TOKEN_FIRST] = "ConversationMode",
    [0x28 - TOKEN_FIRST] = "MaxItems",
    [0x29 - TOKEN_FIRST] = "HeartbeatInterval",
};

static const char *const page_contacts[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "Anniversary",
    [0x06 - TOKEN_FIRST] = "AssistantName",
    [0x07 - TOKEN_FIRST] = "AssistantPhoneNumber",
    [0x08 - TOKEN_FIRST] = "Birthday",
    [0x09 - TOKEN_FIRST] = "Body",
    [0x0A - TOKEN_FIRST] = "BodySize",
    [0x0B - TOKEN_FIRST] = "BodyTruncated",
    [0x0C - TOKEN_FIRST] = "Business2PhoneNumber",
    [0x0D - TOKEN_FIRST] = "BusinessAddressCity",
    [0x0E - TOKEN_FIRST] = "BusinessAddressCountry",
    [0x0F - TOKEN_FIRST] = "BusinessAddressPostalCode",
    [0x10 - TOKEN_FIRST] = "BusinessAddressState",
    [0x11 - TOKEN_FIRST] = "BusinessAddressStreet",
    [0x12 - TOKEN_FIRST] = "BusinessFaxNumber",
    [0x13 - TOKEN_FIRST] = "BusinessPhoneNumber",
    [0x14 - TOKEN_FIRST] = "CarPhoneNumber",
    [0x15 - TOKEN_FIRST] = "Categories",
    [0x16 - TOKEN_FIRST] = "Category",
    [0x17 - TOKEN_FIRST] = "Children",
    [0x18 - TOKEN_FIRST] = "Child",
    [0x19 - TOKEN_FIRST] = "CompanyName",
    [0x1A - TOKEN_FIRST] = "Department",
    [0x1B - TOKEN_FIRST] = "Email1Address",
    [0x1C - TOKEN_FIRST] = "Email2Address",
    [0x1D - TOKEN_FIRST] = "Email3Address",
    [0x1E - TOKEN_FIRST] = "FileAs",
    [0x1F - TOKEN_FIRST] = "FirstName",
    [0x20 - TOKEN_FIRST] = "Home2PhoneNumber",
    [0x21 - TOKEN_FIRST] = "HomeAddressCity",
    [0x22 - TOKEN_FIRST] = "HomeAddressCountry",
    [0x23 - TOKEN_FIRST] = "HomeAddressPostalCode",
    [0x24 - TOKEN_FIRST] = "HomeAddressState",
    [0x25 - TOKEN_FIRST] = "HomeAddressStreet",
    [0x26 - TOKEN_FIRST] = "HomeFaxNumber",
    [0x27 - TOKEN_FIRST] = "HomePhoneNumber",
    [0x28 - TOKEN_FIRST] = "JobTitle",
    [0x29 - TOKEN_FIRST] = "LastName",
    [0x2A - TOKEN_FIRST] = "MiddleName",
    [0x2B - TOKEN_FIRST] = "MobilePhoneNumber",
    [0x2C - TOKEN_FIRST] = "OfficeLocation",
    [0x2D - TOKEN_FIRST] = "OtherAddressCity",
    [0x2E - TOKEN_FIRST] = "OtherAddressCountry",
    [0x2F - TOKEN_FIRST] = "OtherAddressPostalCode",
    [0x30 - TOKEN_FIRST] = "OtherAddressState",
    [0x31 - TOKEN_FIRST] = "OtherAddressStreet",
    [0x32 - TOKEN_FIRST] = "PagerNumber",
    [0x33 - TOKEN_FIRST] = "RadioPhoneNumber",
    [0x34 - TOKEN_FIRST] = "Spouse",
    [0x35 - TOKEN_FIRST] = "Suffix",
    [0x36 - TOKEN_FIRST] = "Title",
    [0x37 - TOKEN_FIRST] = "WebPage",
    [0x38 - TOKEN_FIRST] = "YomiCompanyName",
    [0x39 - TOKEN_FIRST] = "YomiFirstName",
    [0x3A - TOKEN_FIRST] = "YomiLastName",
    [0x3B - TOKEN_FIRST] = "CompressedRTF",
    [0x3C - TOKEN_FIRST] = "Picture",
    [0x3D - TOKEN_FIRST] = "Alias",
    [0x3E - TOKEN_FIRST] = "WeightedRank",
};

static const char *const page_email[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "Attachment",
    [0x06 - TOKEN_FIRST] = "Attachments",
    [0x07 - TOKEN_FIRST] = "AttName",
    [0x08 - TOKEN_FIRST] = "AttSize",
    [0x09 - TOKEN_FIRST] = "Att0Id",
    [0x0A - TOKEN_FIRST] = "AttMethod",
    [0x0B - TOKEN_FIRST] = "AttRemoved",
    [0x0C - TOKEN_FIRST] = "Body",
    [0x0D - TOKEN_FIRST] = "BodySize",
    [0x0E - TOKEN_FIRST] = "BodyTruncated",
    [0x0F - TOKEN_FIRST] = "DateReceived",
    [0x10 - TOKEN_FIRST] = "DisplayName",
    [0x11 - TOKEN_FIRST] = "DisplayTo",
    [0x12 - TOKEN_FIRST] = "Importance",
    [0x13 - TOKEN_FIRST] = "MessageClass",
    [0x14 - TOKEN_FIRST] = "Subject",
    [0x15 - TOKEN_FIRST] = "Read",
    [0x16 - TOKEN_FIRST] = "To",
    [0x17 - TOKEN_FIRST] = "Cc",
    [0x18 - TOKEN_FIRST] = "From",
    [0x19 - TOKEN_FIRST] = "ReplyTo",
    [0x1A - TOKEN_FIRST] = "AllDayEvent",
    [0x1B - TOKEN_FIRST] = "Categories",
    [0x1C - TOKEN_FIRST] = "Category",
    [0x1D - TOKEN_FIRST] = "DtStamp",
    [0x1E - TOKEN_FIRST] = "EndTime",
    [0x1F - TOKEN_FIRST] = "InstanceType",
    [0x20 - TOKEN_FIRST] = "BusyStatus",
    [0x21 - TOKEN_FIRST] = "Location",
    [0x22 - TOKEN_FIRST] = "MeetingRequest",
    [0x23 - TOKEN_FIRST] = "Organizer",
    [0x24 - TOKEN_FIRST] = "RecurrenceId",
    [0x25 - TOKEN_FIRST] = "Reminder",
    [0x26 - TOKEN_FIRST] = "ResponseRequested",
    [0x27 - TOKEN_FIRST] = "Recurrences",
    [0x28 - TOKEN_FIRST] = "Recurrence",
    [0x29 - TOKEN_FIRST] = "Type",
    [0x2A - TOKEN_FIRST] = "Until",
    [0x2B - TOKEN_FIRST] = "Occurrences",
    [0x2C - TOKEN_FIRST] = "Interval",
    [0x2D - TOKEN_FIRST] = "DayOfWeek",
    [0x2E - TOKEN_FIRST] = "DayOfMonth",
    [0x2F - TOKEN_FIRST] = "WeekOfMonth",
    [0x30 - TOKEN_FIRST] = "MonthOfYear",
    [0x31 - TOKEN_FIRST] = "StartTime",
    [0x32 - TOKEN_FIRST] = "Sensitivity",
    [0x33 - TOKEN_FIRST] = "TimeZone",
    [0x34 - TOKEN_FIRST] = "GlobalObjId",
    [0x35 - TOKEN_FIRST] = "ThreadTopic",
    [0x36 - TOKEN_FIRST] = "MIMEData",
    [0x37 - TOKEN_FIRST] = "MIMETruncated",
    [0x38 - TOKEN_FIRST] = "MIMESize",
    [0x39 - TOKEN_FIRST] = "InternetCPID",
    [0x3A - TOKEN_FIRST] = "Flag",
    [0x3B - TOKEN_FIRST] = "Status",
    [0x3C - TOKEN_FIRST] = "ContentClass",
    [0x3D - TOKEN_FIRST] = "FlagType",
    [0x3E - TOKEN_FIRST] = "CompleteTime",
    [0x3F - TOKEN_FIRST] = "DisallowNewTimeProposal",
};

static const char *const page_airnotify[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "Notify",         [0x06 - TOKEN_FIRST] = "Notification",
    [0x07 - TOKEN_FIRST] = "Version",        [0x08 - TOKEN_FIRST] = "Lifetime",
    [0x09 - TOKEN_FIRST] = "DeviceInfo",     [0x0A - TOKEN_FIRST] = "Enable",
    [0x0B - TOKEN_FIRST] = "Folder",         [0x0C - TOKEN_FIRST] = "ServerId",
    [0x0D - TOKEN_FIRST] = "DeviceAddress",  [0x0E - TOKEN_FIRST] = "ValidCarrierProfiles",
    [0x0F - TOKEN_FIRST] = "CarrierProfile", [0x10 - TOKEN_FIRST] = "Status",
    [0x11 - TOKEN_FIRST] = "Responses",      [0x12 - TOKEN_FIRST] = "Devices",
    [0x13 - TOKEN_FIRST] = "Device",         [0x14 - TOKEN_FIRST] = "Id",
    [0x15 - TOKEN_FIRST] = "Expiry",         [0x16 - TOKEN_FIRST] = "NotifyGUID",
};

static const char *const page_calendar[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "TimeZone",
    [0x06 - TOKEN_FIRST] = "AllDayEvent",
    [0x07 - TOKEN_FIRST] = "Attendees",
    [0x08 - TOKEN_FIRST] = "Attendee",
    [0x09 - TOKEN_FIRST] = "Email",
    [0x0A - TOKEN_FIRST] = "Name",
    [0x0B - TOKEN_FIRST] = "Body",
    [0x0C - TOKEN_FIRST] = "BodyTruncated",
    [0x0D - TOKEN_FIRST] = "BusyStatus",
    [0x0E - TOKEN_FIRST] = "Categories",
    [0x0F - TOKEN_FIRST] = "Category",
    [0x10 - TOKEN_FIRST] = "CompressedRTF",
    [0x11 - TOKEN_FIRST] = "DtStamp",
    [0x12 - TOKEN_FIRST] = "EndTime",
    [0x13 - TOKEN_FIRST] = "Exception",
    [0x14 - TOKEN_FIRST] = "Exceptions",
    [0x15 - TOKEN_FIRST] = "Deleted",
    [0x16 - TOKEN_FIRST] = "ExceptionStartTime",
    [0x17 - TOKEN_FIRST] = "Location",
    [0x18 - TOKEN_FIRST] = "MeetingStatus",
    [0x19 - TOKEN_FIRST] = "OrganizerEmail",
    [0x1A - TOKEN_FIRST] = "OrganizerName",
    [0x1B - TOKEN_FIRST] = "Recurrence",
    [0x1C - TOKEN_FIRST] = "Type",
    [0x1D - TOKEN_FIRST] = "Until",
    [0x1E - TOKEN_FIRST] = "Occurrences",
    [0x1F - TOKEN_FIRST] = "Interval",
    [0x20 - TOKEN_FIRST] = "DayOfWeek",
    [0x21 - TOKEN_FIRST] = "DayOfMonth",
    [0x22 - TOKEN_FIRST] = "WeekOfMonth",
    [0x23 - TOKEN_FIRST] = "MonthOfYear",
    [0x24 - TOKEN_FIRST] = "Reminder",
    [0x25 - TOKEN_FIRST] = "Sensitivity",
    [0x26 - TOKEN_FIRST] = "Subject",
    [0x27 - TOKEN_FIRST] = "StartTime",
    [0x28 - TOKEN_FIRST] = "UID",
    [0x29 - TOKEN_FIRST] = "AttendeeStatus",
    [0x2A - TOKEN_FIRST] = "AttendeeType",
    [0x33 - TOKEN_FIRST] = "DisallowNewTimeProposal",
    [0x34 - TOKEN_FIRST] = "ResponseRequested",
    [0x35 - TOKEN_FIRST] = "AppointmentReplyTime",
    [0x36 - TOKEN_FIRST] = "ResponseType",
    [0x37 - TOKEN_FIRST] = "CalendarType",
    [0x38 - TOKEN_FIRST] = "IsLeapMonth",
    [0x39 - TOKEN_FIRST] = "FirstDayOfWeek",
    [0x3A - TOKEN_FIRST] = "OnlineMeetingConfLink",
    [0x3B - TOKEN_FIRST] = "OnlineMeetingExternalLink",
    [0x3C - TOKEN_FIRST] = "ClientUid",
};

static const char *const page_move[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "MoveItems", [0x06 - TOKEN_FIRST] = "Move",
    [0x07 - TOKEN_FIRST] = "SrcMsgId",  [0x08 - TOKEN_FIRST] = "SrcFldId",
    [0x09 - TOKEN_FIRST] = "DstFldId",  [0x0A - TOKEN_FIRST] = "Response",
    [0x0B - TOKEN_FIRST] = "Status",    [0x0C - TOKEN_FIRST] = "DstMsgId",
};

static const char *const page_getitemestimate[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "GetItemEstimate", [0x06 - TOKEN_FIRST] = "Version",
    [0x07 - TOKEN_FIRST] = "Collections",     [0x08 - TOKEN_FIRST] = "Collection",
    [0x09 - TOKEN_FIRST] = "Class",           [0x0A - TOKEN_FIRST] = "CollectionId",
    [0x0B - TOKEN_FIRST] = "DateTime",        [0x0C - TOKEN_FIRST] = "Estimate",
    [0x0D - TOKEN_FIRST] = "Response",        [0x0E - TOKEN_FIRST] = "Status",
};

static const char *const page_folderhierarchy[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "Folders",      [0x06 - TOKEN_FIRST] = "Folder",
    [0x07 - TOKEN_FIRST] = "DisplayName",  [0x08 - TOKEN_FIRST] = "ServerId",
    [0x09 - TOKEN_FIRST] = "ParentId",     [0x0A - TOKEN_FIRST] = "Type",
    [0x0B - TOKEN_FIRST] = "Response",     [0x0C - TOKEN_FIRST] = "Status",
    [0x0D - TOKEN_FIRST] = "ContentClass", [0x0E - TOKEN_FIRST] = "Changes",
    [0x0F - TOKEN_FIRST] = "Add",          [0x10 - TOKEN_FIRST] = "Delete",
    [0x11 - TOKEN_FIRST] = "Update",       [0x12 - TOKEN_FIRST] = "SyncKey",
    [0x13 - TOKEN_FIRST] = "FolderCreate", [0x14 - TOKEN_FIRST] = "FolderDelete",
    [0x15 - TOKEN_FIRST] = "FolderUpdate", [0x16 - TOKEN_FIRST] = "FolderSync",
    [0x17 - TOKEN_FIRST] = "Count",        [0x18 - TOKEN_FIRST] = "Version",
};

static const char *const page_meetingresponse[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "CalendarId",
    [0x06 - TOKEN_FIRST] = "CollectionId",
    [0x07 - TOKEN_FIRST] = "MeetingResponse",
    [0x08 - TOKEN_FIRST] = "RequestId",
    [0x09 - TOKEN_FIRST] = "Request",
    [0x0A - TOKEN_FIRST] = "Result",
    [0x0B - TOKEN_FIRST] = "Status",
    [0x0C - TOKEN_FIRST] = "UserResponse",
    [0x0D - TOKEN_FIRST] = "Version",
    [0x0E - TOKEN_FIRST] = "InstanceId",
    [0x10 - TOKEN_FIRST] = "ProposedStartTime",
    [0x11 - TOKEN_FIRST] = "ProposedEndTime",
    [0x12 - TOKEN_FIRST] = "SendResponse",
};

static const char *const page_tasks[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "Body",           [0x06 - TOKEN_FIRST] = "BodySize",
    [0x07 - TOKEN_FIRST] = "BodyTruncated",  [0x08 - TOKEN_FIRST] = "Categories",
    [0x09 - TOKEN_FIRST] = "Category",       [0x0A - TOKEN_FIRST] = "Complete",
    [0x0B - TOKEN_FIRST] = "DateCompleted",  [0x0C - TOKEN_FIRST] = "DueDate",
    [0x0D - TOKEN_FIRST] = "UtcDueDate",     [0x0E - TOKEN_FIRST] = "Importance",
    [0x0F - TOKEN_FIRST] = "Recurrence",     [0x10 - TOKEN_FIRST] = "Type",
    [0x11 - TOKEN_FIRST] = "Start",          [0x12 - TOKEN_FIRST] = "Until",
    [0x13 - TOKEN_FIRST] = "Occurrences",    [0x14 - TOKEN_FIRST] = "Interval",
    [0x15 - TOKEN_FIRST] = "DayOfMonth",     [0x16 - TOKEN_FIRST] = "DayOfWeek",
    [0x17 - TOKEN_FIRST] = "WeekOfMonth",    [0x18 - TOKEN_FIRST] = "MonthOfYear",
    [0x19 - TOKEN_FIRST] = "Regenerate",     [0x1A - TOKEN_FIRST] = "DeadOccur",
    [0x1B - TOKEN_FIRST] = "ReminderSet",    [0x1C - TOKEN_FIRST] = "ReminderTime",
    [0x1D - TOKEN_FIRST] = "Sensitivity",    [0x1E - TOKEN_FIRST] = "StartDate",
    [0x1F - TOKEN_FIRST] = "UtcStartDate",   [0x20 - TOKEN_FIRST] = "Subject",
    [0x21 - TOKEN_FIRST] = "CompressedRTF",  [0x22 - TOKEN_FIRST] = "OrdinalDate",
    [0x23 - TOKEN_FIRST] = "SubOrdinalDate", [0x24 - TOKEN_FIRST] = "CalendarType",
    [0x25 - TOKEN_FIRST] = "IsLeapMonth",    [0x26 - TOKEN_FIRST] = "FirstDayOfWeek",
};

static const char *const page_resolverecipients[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "ResolveRecipients",
    [0x06 - TOKEN_FIRST] = "Response",
    [0x07 - TOKEN_FIRST] = "Status",
    [0x08 - TOKEN_FIRST] = "Type",
    [0x09 - TOKEN_FIRST] = "Recipient",
    [0x0A - TOKEN_FIRST] = "DisplayName",
    [0x0B - TOKEN_FIRST] = "EmailAddress",
    [0x0C - TOKEN_FIRST] = "Certificates",
    [0x0D - TOKEN_FIRST] = "Certificate",
    [0x0E - TOKEN_FIRST] = "MiniCertificate",
    [0x0F - TOKEN_FIRST] = "Options",
    [0x10 - TOKEN_FIRST] = "To",
    [0x11 - TOKEN_FIRST] = "CertificateRetrieval",
    [0x12 - TOKEN_FIRST] = "RecipientCount",
    [0x13 - TOKEN_FIRST] = "MaxCertificates",
    [0x14 - TOKEN_FIRST] = "MaxAmbiguousRecipients",
    [0x15 - TOKEN_FIRST] = "CertificateCount",
    [0x16 - TOKEN_FIRST] = "Availability",
    [0x17 - TOKEN_FIRST] = "StartTime",
    [0x18 - TOKEN_FIRST] = "EndTime",
    [0x19 - TOKEN_FIRST] = "MergedFreeBusy",
    [0x1A - TOKEN_FIRST] = "Picture",
    [0x1B - TOKEN_FIRST] = "MaxSize",
    [0x1C - TOKEN_FIRST] = "Data",
    [0x1D - TOKEN_FIRST] = "MaxPictures",
};

static const char *const page_validatecert[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "ValidateCert", [0x06 - TOKEN_FIRST] = "Certificates",
    [0x07 - TOKEN_FIRST] = "Certificate",  [0x08 - TOKEN_FIRST] = "CertificateChain",
    [0x09 - TOKEN_FIRST] = "CheckCRL",     [0x0A - TOKEN_FIRST] = "Status",
};

static const char *const page_contacts2[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "CustomerId",       [0x06 - TOKEN_FIRST] = "GovernmentId",
    [0x07 - TOKEN_FIRST] = "IMAddress",        [0x08 - TOKEN_FIRST] = "IMAddress2",
    [0x09 - TOKEN_FIRST] = "IMAddress3",       [0x0A - TOKEN_FIRST] = "ManagerName",
    [0x0B - TOKEN_FIRST] = "CompanyMainPhone", [0x0C - TOKEN_FIRST] = "AccountName",
    [0x0D - TOKEN_FIRST] = "NickName",         [0x0E - TOKEN_FIRST] = "MMS",
};

static const char *const page_ping[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "Ping",       [0x06 - TOKEN_FIRST] = "AutdState",
    [0x07 - TOKEN_FIRST] = "Status",     [0x08 - TOKEN_FIRST] = "HeartbeatInterval",
    [0x09 - TOKEN_FIRST] = "Folders",    [0x0A - TOKEN_FIRST] = "Folder",
    [0x0B - TOKEN_FIRST] = "Id",         [0x0C - TOKEN_FIRST] = "Class",
    [0x0D - TOKEN_FIRST] = "MaxFolders",
};

static const char *const page_provision[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "Provision",
    [0x06 - TOKEN_FIRST] = "Policies",
    [0x07 - TOKEN_FIRST] = "Policy",
    [0x08 - TOKEN_FIRST] = "PolicyType",
    [0x09 - TOKEN_FIRST] = "PolicyKey",
    [0x0A - TOKEN_FIRST] = "Data",
    [0x0B - TOKEN_FIRST] = "Status",
    [0x0C - TOKEN_FIRST] = "RemoteWipe",
    [0x0D - TOKEN_FIRST] = "EASProvisionDoc",
    [0x0E - TOKEN_FIRST] = "DevicePasswordEnabled",
    [0x0F - TOKEN_FIRST] = "AlphanumericDevicePasswordRequired",
    [0x10 - TOKEN_FIRST] = "RequireStorageCardEncryption",
    [0x11 - TOKEN_FIRST] = "PasswordRecoveryEnabled",
    [0x13 - TOKEN_FIRST] = "AttachmentsEnabled",
    [0x14 - TOKEN_FIRST] = "MinDevicePasswordLength",
    [0x15 - TOKEN_FIRST] = "MaxInactivityTimeDeviceLock",
    [0x16 - TOKEN_FIRST] = "MaxDevicePasswordFailedAttempts",
    [0x17 - TOKEN_FIRST] = "MaxAttachmentSize",
    [0x18 - TOKEN_FIRST] = "AllowSimpleDevicePassword",
    [0x19 - TOKEN_FIRST] = "DevicePasswordExpiration",
    [0x1A - TOKEN_FIRST] = "DevicePasswordHistory",
    [0x1B - TOKEN_FIRST] = "AllowStorageCard",
    [0x1C - TOKEN_FIRST] = "AllowCamera",
    [0x1D - TOKEN_FIRST] = "RequireDeviceEncryption",
    [0x1E - TOKEN_FIRST] = "AllowUnsignedApplications",
    [0x1F - TOKEN_FIRST] = "AllowUnsignedInstallationPackages",
    [0x20 - TOKEN_FIRST] = "MinDevicePasswordComplexCharacters",
    [0x21 - TOKEN_FIRST] = "AllowWiFi",
    [0x22 - TOKEN_FIRST] = "AllowTextMessaging",
    [0x23 - TOKEN_FIRST] = "AllowPOPIMAPEmail",
    [0x24 - TOKEN_FIRST] = "AllowBluetooth",
    [0x25 - TOKEN_FIRST] = "AllowIrDA",
    [0x26 - TOKEN_FIRST] = "RequireManualSyncWhenRoaming",
    [0x27 - TOKEN_FIRST] = "AllowDesktopSync",
    [0x28 - TOKEN_FIRST] = "MaxCalendarAgeFilter",
    [0x29 - TOKEN_FIRST] = "AllowHTMLEmail",
    [0x2A - TOKEN_FIRST] = "MaxEmailAgeFilter",
    [0x2B - TOKEN_FIRST] = "MaxEmailBodyTruncationSize",
    [0x2C - TOKEN_FIRST] = "MaxEmailHTMLBodyTruncationSize",
    [0x2D - TOKEN_FIRST] = "RequireSignedSMIMEMessages",
    [0x2E - TOKEN_FIRST] = "RequireEncryptedSMIMEMessages",
    [0x2F - TOKEN_FIRST] = "RequireSignedSMIMEAlgorithm",
    [0x30 - TOKEN_FIRST] = "RequireEncryptionSMIMEAlgorithm",
    [0x31 - TOKEN_FIRST] = "AllowSMIMEEncryptionAlgorithmNegotiation",
    [0x32 - TOKEN_FIRST] = "AllowSMIMESoftCerts",
    [0x33 - TOKEN_FIRST] = "AllowBrowser",
    [0x34 - TOKEN_FIRST] = "AllowConsumerEmail",
    [0x35 - TOKEN_FIRST] = "AllowRemoteDesktop",
    [0x36 - TOKEN_FIRST] = "AllowInternetSharing",
    [0x37 - TOKEN_FIRST] = "UnapprovedInROMApplicationList",
    [0x38 - TOKEN_FIRST] = "ApplicationName",
    [0x39 - TOKEN_FIRST] = "ApprovedApplicationList",
    [0x3A - TOKEN_FIRST] = "Hash",
    [0x3B - TOKEN_FIRST] = "AccountOnlyRemoteWipe",
};

static const char *const page_search[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "Search",
    [0x07 - TOKEN_FIRST] = "Store",
    [0x08 - TOKEN_FIRST] = "Name",
    [0x09 - TOKEN_FIRST] = "Query",
    [0x0A - TOKEN_FIRST] = "Options",
    [0x0B - TOKEN_FIRST] = "Range",
    [0x0C - TOKEN_FIRST] = "Status",
    [0x0D - TOKEN_FIRST] = "Response",
    [0x0E - TOKEN_FIRST] = "Result",
    [0x0F - TOKEN_FIRST] = "Properties",
    [0x10 - TOKEN_FIRST] = "Total",
    [0x11 - TOKEN_FIRST] = "EqualTo",
    [0x12 - TOKEN_FIRST] = "Value",
    [0x13 - TOKEN_FIRST] = "And",
    [0x14 - TOKEN_FIRST] = "Or",
    [0x15 - TOKEN_FIRST] = "FreeText",
    [0x17 - TOKEN_FIRST] = "DeepTraversal",
    [0x18 - TOKEN_FIRST] = "LongId",
    [0x19 - TOKEN_FIRST] = "RebuildResults",
    [0x1A - TOKEN_FIRST] = "LessThan",
    [0x1B - TOKEN_FIRST] = "GreaterThan",
    [0x1C - TOKEN_FIRST] = "Schema",
    [0x1D - TOKEN_FIRST] = "Supported",
    [0x1E - TOKEN_FIRST] = "UserName",
    [0x1F - TOKEN_FIRST] = "Password",
    [0x20 - TOKEN_FIRST] = "ConversationId",
    [0x21 - TOKEN_FIRST] = "Picture",
    [0x22 - TOKEN_FIRST] = "MaxSize",
    [0x23 - TOKEN_FIRST] = "MaxPictures",
};

static const char *const page_gal[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "DisplayName",  [0x06 - TOKEN_FIRST] = "Phone",
    [0x07 - TOKEN_FIRST] = "Office",       [0x08 - TOKEN_FIRST] = "Title",
    [0x09 - TOKEN_FIRST] = "Company",      [0x0A - TOKEN_FIRST] = "Alias",
    [0x0B - TOKEN_FIRST] = "FirstName",    [0x0C - TOKEN_FIRST] = "LastName",
    [0x0D - TOKEN_FIRST] = "HomePhone",    [0x0E - TOKEN_FIRST] = "MobilePhone",
    [0x0F - TOKEN_FIRST] = "EmailAddress", [0x10 - TOKEN_FIRST] = "Picture",
    [0x11 - TOKEN_FIRST] = "Status",       [0x12 - TOKEN_FIRST] = "Data",
};

static const char *const page_airsyncbase[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "BodyPreference",
    [0x06 - TOKEN_FIRST] = "Type",
    [0x07 - TOKEN_FIRST] = "TruncationSize",
    [0x08 - TOKEN_FIRST] = "AllOrNone",
    [0x0A - TOKEN_FIRST] = "Body",
    [0x0B - TOKEN_FIRST] = "Data",
    [0x0C - TOKEN_FIRST] = "EstimatedDataSize",
    [0x0D - TOKEN_FIRST] = "Truncated",
    [0x0E - TOKEN_FIRST] = "Attachments",
    [0x0F - TOKEN_FIRST] = "Attachment",
    [0x10 - TOKEN_FIRST] = "DisplayName",
    [0x11 - TOKEN_FIRST] = "FileReference",
    [0x12 - TOKEN_FIRST] = "Method",
    [0x13 - TOKEN_FIRST] = "ContentId",
    [0x14 - TOKEN_FIRST] = "ContentLocation",
    [0x15 - TOKEN_FIRST] = "IsInline",
    [0x16 - TOKEN_FIRST] = "NativeBodyType",
    [0x17 - TOKEN_FIRST] = "ContentType",
    [0x18 - TOKEN_FIRST] = "Preview",
    [0x19 - TOKEN_FIRST] = "BodyPartPreference",
    [0x1A - TOKEN_FIRST] = "BodyPart",
    [0x1B - TOKEN_FIRST] = "Status",
    [0x1C - TOKEN_FIRST] = "Add",
    [0x1D - TOKEN_FIRST] = "Delete",
    [0x1E - TOKEN_FIRST] = "ClientId",
    [0x1F - TOKEN_FIRST] = "Content",
    [0x20 - TOKEN_FIRST] = "Location",
    [0x21 - TOKEN_FIRST] = "Annotation",
    [0x22 - TOKEN_FIRST] = "Street",
    [0x23 - TOKEN_FIRST] = "City",
    [0x24 - TOKEN_FIRST] = "State",
    [0x25 - TOKEN_FIRST] = "Country",
    [0x26 - TOKEN_FIRST] = "PostalCode",
    [0x27 - TOKEN_FIRST] = "Latitude",
    [0x28 - TOKEN_FIRST] = "Longitude",
    [0x29 - TOKEN_FIRST] = "Accuracy",
    [0x2A - TOKEN_FIRST] = "Altitude",
    [0x2B - TOKEN_FIRST] = "AltitudeAccuracy",
    [0x2C - TOKEN_FIRST] = "LocationUri",
    [0x2D - TOKEN_FIRST] = "InstanceId",
};

static const char *const page_settings[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "Settings",
    [0x06 - TOKEN_FIRST] = "Status",
    [0x07 - TOKEN_FIRST] = "Get",
    [0x08 - TOKEN_FIRST] = "Set",
    [0x09 - TOKEN_FIRST] = "Oof",
    [0x0A - TOKEN_FIRST] = "OofState",
    [0x0B - TOKEN_FIRST] = "StartTime",
    [0x0C - TOKEN_FIRST] = "EndTime",
    [0x0D - TOKEN_FIRST] = "OofMessage",
    [0x0E - TOKEN_FIRST] = "AppliesToInternal",
    [0x0F - TOKEN_FIRST] = "AppliesToExternalKnown",
    [0x10 - TOKEN_FIRST] = "AppliesToExternalUnknown",
    [0x11 - TOKEN_FIRST] = "Enabled",
    [0x12 - TOKEN_FIRST] = "ReplyMessage",
    [0x13 - TOKEN_FIRST] = "BodyType",
    [0x14 - TOKEN_FIRST] = "DevicePassword",
    [0x15 - TOKEN_FIRST] = "Password",
    [0x16 - TOKEN_FIRST] = "DeviceInformation",
    [0x17 - TOKEN_FIRST] = "Model",
    [0x18 - TOKEN_FIRST] = "IMEI",
    [0x19 - TOKEN_FIRST] = "FriendlyName",
    [0x1A - TOKEN_FIRST] = "OS",
    [0x1B - TOKEN_FIRST] = "OSLanguage",
    [0x1C - TOKEN_FIRST] = "PhoneNumber",
    [0x1D - TOKEN_FIRST] = "UserInformation",
    [0x1E - TOKEN_FIRST] = "EmailAddresses",
    [0x1F - TOKEN_FIRST] = "SMTPAddress",
    [0x20 - TOKEN_FIRST] = "UserAgent",
    [0x21 - TOKEN_FIRST] = "EnableOutboundSMS",
    [0x22 - TOKEN_FIRST] = "MobileOperator",
    [0x23 - TOKEN_FIRST] = "PrimarySmtpAddress",
    [0x24 - TOKEN_FIRST] = "Accounts",
    [0x25 - TOKEN_FIRST] = "Account",
    [0x26 - TOKEN_FIRST] = "AccountId",
    [0x27 - TOKEN_FIRST] = "AccountName",
    [0x28 - TOKEN_FIRST] = "UserDisplayName",
    [0x29 - TOKEN_FIRST] = "SendDisabled",
    [0x2B - TOKEN_FIRST] = "RightsManagementInformation",
};

static const char *const page_documentlibrary[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "LinkId",           [0x06 - TOKEN_FIRST] = "DisplayName",
    [0x07 - TOKEN_FIRST] = "IsFolder",         [0x08 - TOKEN_FIRST] = "CreationDate",
    [0x09 - TOKEN_FIRST] = "LastModifiedDate", [0x0A - TOKEN_FIRST] = "IsHidden",
    [0x0B - TOKEN_FIRST] = "ContentLength",    [0x0C - TOKEN_FIRST] = "ContentType",
};

static const char *const page_itemoperations[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "ItemOperations",
    [0x06 - TOKEN_FIRST] = "Fetch",
    [0x07 - TOKEN_FIRST] = "Store",
    [0x08 - TOKEN_FIRST] = "Options",
    [0x09 - TOKEN_FIRST] = "Range",
    [0x0A - TOKEN_FIRST] = "Total",
    [0x0B - TOKEN_FIRST] = "Properties",
    [0x0C - TOKEN_FIRST] = "Data",
    [0x0D - TOKEN_FIRST] = "Status",
    [0x0E - TOKEN_FIRST] = "Response",
    [0x0F - TOKEN_FIRST] = "Version",
    [0x10 - TOKEN_FIRST] = "Schema",
    [0x11 - TOKEN_FIRST] = "Part",
    [0x12 - TOKEN_FIRST] = "EmptyFolderContents",
    [0x13 - TOKEN_FIRST] = "DeleteSubFolders",
    [0x14 - TOKEN_FIRST] = "UserName",
    [0x15 - TOKEN_FIRST] = "Password",
    [0x16 - TOKEN_FIRST] = "Move",
    [0x17 - TOKEN_FIRST] = "DstFldId",
    [0x18 - TOKEN_FIRST] = "ConversationId",
    [0x19 - TOKEN_FIRST] = "MoveAlways",
};

static const char *const page_composemail[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "SendMail",      [0x06 - TOKEN_FIRST] = "SmartForward",
    [0x07 - TOKEN_FIRST] = "SmartReply",    [0x08 - TOKEN_FIRST] = "SaveInSentItems",
    [0x09 - TOKEN_FIRST] = "ReplaceMime",   [0x0B - TOKEN_FIRST] = "Source",
    [0x0C - TOKEN_FIRST] = "FolderId",      [0x0D - TOKEN_FIRST] = "ItemId",
    [0x0E - TOKEN_FIRST] = "LongId",        [0x0F - TOKEN_FIRST] = "InstanceId",
    [0x10 - TOKEN_FIRST] = "Mime",          [0x11 - TOKEN_FIRST] = "ClientId",
    [0x12 - TOKEN_FIRST] = "Status",        [0x13 - TOKEN_FIRST] = "AccountId",
    [0x15 - TOKEN_FIRST] = "Forwardees",    [0x16 - TOKEN_FIRST] = "Forwardee",
    [0x17 - TOKEN_FIRST] = "ForwardeeName", [0x18 - TOKEN_FIRST] = "ForwardeeEmail",
};

static const char *const page_email2[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "UmCallerID",
    [0x06 - TOKEN_FIRST] = "UmUserNotes",
    [0x07 - TOKEN_FIRST] = "UmAttDuration",
    [0x08 - TOKEN_FIRST] = "UmAttOrder",
    [0x09 - TOKEN_FIRST] = "ConversationId",
    [0x0A - TOKEN_FIRST] = "ConversationIndex",
    [0x0B - TOKEN_FIRST] = "LastVerbExecuted",
    [0x0C - TOKEN_FIRST] = "LastVerbExecutionTime",
    [0x0D - TOKEN_FIRST] = "ReceivedAsBcc",
    [0x0E - TOKEN_FIRST] = "Sender",
    [0x0F - TOKEN_FIRST] = "CalendarType",
    [0x10 - TOKEN_FIRST] = "IsLeapMonth",
    [0x11 - TOKEN_FIRST] = "AccountId",
    [0x12 - TOKEN_FIRST] = "FirstDayOfWeek",
    [0x13 - TOKEN_FIRST] = "MeetingMessageType",
    [0x15 - TOKEN_FIRST] = "IsDraft",
    [0x16 - TOKEN_FIRST] = "Bcc",
    [0x17 - TOKEN_FIRST] = "Send",
};

static const char *const page_notes[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "Subject",          [0x06 - TOKEN_FIRST] = "MessageClass",
    [0x07 - TOKEN_FIRST] = "LastModifiedDate", [0x08 - TOKEN_FIRST] = "Categories",
    [0x09 - TOKEN_FIRST] = "Category",
};

static const char *const page_rightsmanagement[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "RightsManagementSupport",
    [0x06 - TOKEN_FIRST] = "RightsManagementTemplates",
    [0x07 - TOKEN_FIRST] = "RightsManagementTemplate",
    [0x08 - TOKEN_FIRST] = "RightsManagementLicense",
    [0x09 - TOKEN_FIRST] = "EditAllowed",
    [0x0A - TOKEN_FIRST] = "ReplyAllowed",
    [0x0B - TOKEN_FIRST] = "ReplyAllAllowed",
    [0x0C - TOKEN_FIRST] = "ForwardAllowed",
    [0x0D - TOKEN_FIRST] = "ModifyRecipientsAllowed",
    [0x0E - TOKEN_FIRST] = "ExtractAllowed",
    [0x0F - TOKEN_FIRST] = "PrintAllowed",
    [0x10 - TOKEN_FIRST] = "ExportAllowed",
    [0x11 - TOKEN_FIRST] = "ProgrammaticAccessAllowed",
    [0x12 - TOKEN_FIRST] = "Owner",
    [0x13 - TOKEN_FIRST] = "ContentExpiryDate",
    [0x14 - TOKEN_FIRST] = "TemplateID",
    [0x15 - TOKEN_FIRST] = "TemplateName",
    [0x16 - TOKEN_FIRST] = "TemplateDescription",
    [0x17 - TOKEN_FIRST] = "ContentOwner",
    [0x18 - TOKEN_FIRST] = "RemoveRightsManagementProtection",
};

static const char *const page_find[PAGE_TOKENS] = {
    [0x05 - TOKEN_FIRST] = "Find",
    [0x06 - TOKEN_FIRST] = "SearchId",
    [0x07 - TOKEN_FIRST] = "ExecuteSearch",
    [0x08 - TOKEN_FIRST] = "MailBoxSearchCriterion",
    [0x09 - TOKEN_FIRST] = "Query",
    [0x0A - TOKEN_FIRST] = "Status",
    [0x0B - TOKEN_FIRST] = "FreeText",
    [0x0C - TOKEN_FIRST] = "Options",
    [0x0D - TOKEN_FIRST] = "Range",
    [0x0E - TOKEN_FIRST] = "DeepTraversal",
    [0x11 - TOKEN_FIRST] = "Response",
    [0x12 - TOKEN_FIRST] = "Result",
    [0x13 - TOKEN_FIRST] = "Properties",
    [0x14 - TOKEN_FIRST] = "Preview",
    [0x15 - TOKEN_FIRST] = "HasAttachments",
    [0x16 - TOKEN_FIRST] = "Total",
    [0x17 - TOKEN_FIRST] = "DisplayCc",
    [0x18 - TOKEN_FIRST] = "DisplayBcc",
    [0x19 - TOKEN_FIRST] = "GalSearchCriterion",
    [0x20 - TOKEN_FIRST] = "MaxPictures",
    [0x21 - TOKEN_FIRST] = "MaxSize",
    [0x22 - TOKEN_FIRST] = "Picture",
};

static const struct wbxml_page_names pages[EAS_PAGE_COUNT] = {
    [EAS_PAGE_AIRSYNC] = {"AirSync", page_airsync},
    [EAS_PAGE_CONTACTS] = {"Contacts", page_contacts},
    [EAS_PAGE_EMAIL] = {"Email", page_email},
    [EAS_PAGE_AIRNOTIFY] = {"AirNotify", page_airnotify},
    [EAS_PAGE_CALENDAR] = {"Calendar", page_calendar},
    [EAS_PAGE_MOVE] = {"Move", page_move},
    [EAS_PAGE_GETITEMESTIMATE] = {"GetItemEstimate", page_getitemestimate},
    [EAS_PAGE_FOLDERHIERARCHY] = {"FolderHierarchy", page_folderhierarchy},
    [EAS_PAGE_MEETINGRESPONSE] = {"MeetingResponse", page_meetingresponse},
    [EAS_PAGE_TASKS] = {"Tasks", page_tasks},
    [EAS_PAGE_RESOLVERECIPIENTS] = {"ResolveRecipients", page_resolverecipients},
    [EAS_PAGE_VALIDATECERT] = {"ValidateCert", page_validatecert},
    [EAS_PAGE_CONTACTS2] = {"Contacts2", page_contacts2},
    [EAS_PAGE_PING] = {"Ping", page_ping},
    [EAS_PAGE_PROVISION] = {"Provision", page_provision},
    [EAS_PAGE_SEARCH] = {"Search", page_search},
    [EAS_PAGE_GAL] = {"GAL", page_gal},
    [EAS_PAGE_AIRSYNCBASE] = {"AirSyncBase", page_airsyncbase},
    [EAS_PAGE_SETTINGS] = {"Settings", page_settings},
    [EAS_PAGE_DOCUMENTLIBRARY] = {"DocumentLibrary", page_documentlibrary},
    [EAS_PAGE_ITEMOPERATIONS] = {"ItemOperations", page_itemoperations},
    [EAS_PAGE_COMPOSEMAIL] = {"ComposeMail", page_composemail},
    [EAS_PAGE_EMAIL2] = {"Email2", page_email2},
    [EAS_PAGE_NOTES] = {"Notes", page_notes},
    [EAS_PAGE_RIGHTSMANAGEMENT] = {"RightsManagement", page_rightsmanagement},
    [EAS_PAGE_FIND] = {"Find", page_find},
};

const char *
wbxml_page_name(uint8_t page)
{
	if (page >= EAS_PAGE_COUNT)
		return NULL;
	return pages[page].name;
}

const char *
wbxml_tag_name(uint16_t tag)
{
	uint8_t page = WBXML_TAG_PAGE(tag), token = WBXML_TAG_TOKEN(tag);

	if (page >= EAS_PAGE_COUNT || token < TOKEN_FIRST || token > TOKEN_LAST)
		return NULL;
	return pages[page].tags[token - TOKEN_FIRST];
}

/* Other spellings of page names met in the wild (the namespace of page 6
 * is often written "ItemEstimate"). */
static int
page_by_name(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < EAS_PAGE_COUNT; i++) {
		if (strcmp(pages[i].name, name) == 0)
			return i;
	}
	if (strcmp(name, "ItemEstimate") == 0)
		return EAS_PAGE_GETITEMESTIMATE;
	if (strcmp(name, "ValidateCerts") == 0)
		return EAS_PAGE_VALIDATECERT;
	return -1;
}

uint16_t
wbxml_tag_lookup(const char *page_name, const char *tag_name)
{
	int page = page_by_name(page_name);

	if (page < 0 || tag_name == NULL)
		return 0;
	for (int t = TOKEN_FIRST; t <= TOKEN_LAST; t++) {
		const char *n = pages[page].tags[t - TOKEN_FIRST];

		if (n != NULL && strcmp(n, tag_name) == 0)
			return WBXML_TAG(page, t);
	}
	return 0;
}
