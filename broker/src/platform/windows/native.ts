import { createRequire } from 'node:module';
import path from 'node:path';
import koffi, { type LibraryHandle } from 'koffi';
import type { RegistryKeyCalls, ServiceAccountQuery } from './credspec.js';
import type { FileCalls, FinalPathResult } from './files.js';
import type { ServiceControlCalls } from '../../service/windows-dispatcher.js';
import type { HcnCalls } from './hns.js';
import { HKEY_LOCAL_MACHINE, type RegGetValueCall } from './host.js';
import type { PipeSecurityCalls } from './pipe-security.js';
import { AF_UNSPEC, X64 } from './layout.js';
import { BufferMemory, type NativeMemory } from './memory.js';
import {
  ADAPTER_FLAGS,
  fetchAdapterBuffer,
  parseAdapterList,
  parseRouteTable,
  routeTableSize,
  type RawAdapter,
  type RawRoute,
} from './network.js';
import {
  CONSOLE_PROTOTYPES,
  interruptConsoleWith,
  runHelper,
  type CallResult,
  type HandleResult,
  type ProcessCalls,
} from './processes.js';
import { ERROR_NOT_FOUND, ERROR_SUCCESS, win32Failure } from './win32.js';

/**
 * The thin koffi layer: prototypes, lazy DLL loading, and the calls that hand raw memory to the parsers in
 * network.ts / host.ts. Nothing here runs at import time, so the module loads on Linux (where tests check the
 * prototypes parse) and a DLL is only opened by the first call that needs it.
 *
 * Buffers are passed as `void *`: koffi hands native code the Buffer's own memory (no copy), which matters
 * because GetAdaptersAddresses stores absolute pointers into the buffer it filled.
 */
export const PROTOTYPES = {
  /** iphlpapi.h: ULONG GetAdaptersAddresses(ULONG Family, ULONG Flags, PVOID Reserved, PIP_ADAPTER_ADDRESSES AdapterAddresses, PULONG SizePointer) */
  GetAdaptersAddresses:
    'uint32_t __stdcall GetAdaptersAddresses(uint32_t Family, uint32_t Flags, void *Reserved, void *AdapterAddresses, _Inout_ uint32_t *SizePointer)',
  /** netioapi.h: NETIO_STATUS GetIpForwardTable2(ADDRESS_FAMILY Family, PMIB_IPFORWARD_TABLE2 *Table) */
  GetIpForwardTable2: 'uint32_t __stdcall GetIpForwardTable2(uint16_t Family, _Out_ void **Table)',
  /** netioapi.h: VOID FreeMibTable(PVOID Memory) */
  FreeMibTable: 'void __stdcall FreeMibTable(void *Memory)',
  /** winreg.h: LSTATUS RegGetValueW(HKEY hkey, LPCWSTR lpSubKey, LPCWSTR lpValue, DWORD dwFlags, LPDWORD pdwType, PVOID pvData, LPDWORD pcbData) */
  RegGetValueW:
    'int32_t __stdcall RegGetValueW(void *hkey, const char16_t *lpSubKey, const char16_t *lpValue, uint32_t dwFlags, uint32_t *pdwType, void *pvData, _Inout_ uint32_t *pcbData)',
  /** winreg.h: LSTATUS RegOpenKeyExW(HKEY hKey, LPCWSTR lpSubKey, DWORD ulOptions, REGSAM samDesired, PHKEY phkResult) */
  RegOpenKeyExW:
    'int32_t __stdcall RegOpenKeyExW(void *hKey, const char16_t *lpSubKey, uint32_t ulOptions, uint32_t samDesired, _Out_ void **phkResult)',
  /**
   * winreg.h: LSTATUS RegQueryInfoKeyW(HKEY hKey, LPWSTR lpClass, LPDWORD lpcchClass, LPDWORD lpReserved,
   * LPDWORD lpcSubKeys, LPDWORD lpcbMaxSubKeyLen, LPDWORD lpcbMaxClassLen, LPDWORD lpcValues,
   * LPDWORD lpcbMaxValueNameLen, LPDWORD lpcbMaxValueLen, LPDWORD lpcbSecurityDescriptor, PFILETIME lpftLastWriteTime).
   * Only the value count and longest value name are asked for; every other pointer is passed NULL.
   */
  RegQueryInfoKeyW:
    'int32_t __stdcall RegQueryInfoKeyW(void *hKey, void *lpClass, uint32_t *lpcchClass, uint32_t *lpReserved, uint32_t *lpcSubKeys, uint32_t *lpcbMaxSubKeyLen, uint32_t *lpcbMaxClassLen, _Out_ uint32_t *lpcValues, _Out_ uint32_t *lpcbMaxValueNameLen, uint32_t *lpcbMaxValueLen, uint32_t *lpcbSecurityDescriptor, void *lpftLastWriteTime)',
  /**
   * winreg.h: LSTATUS RegEnumValueW(HKEY hKey, DWORD dwIndex, LPWSTR lpValueName, LPDWORD lpcchValueName,
   * LPDWORD lpReserved, LPDWORD lpType, LPBYTE lpData, LPDWORD lpcbData). The name buffer is a caller Buffer
   * (void *) for the same reason as GetAdaptersAddresses: Windows writes into its memory.
   */
  RegEnumValueW:
    'int32_t __stdcall RegEnumValueW(void *hKey, uint32_t dwIndex, void *lpValueName, _Inout_ uint32_t *lpcchValueName, uint32_t *lpReserved, _Out_ uint32_t *lpType, void *lpData, uint32_t *lpcbData)',
  /** winreg.h: LSTATUS RegCloseKey(HKEY hKey) */
  RegCloseKey: 'int32_t __stdcall RegCloseKey(void *hKey)',
  /** fileapi.h: DWORD GetFinalPathNameByHandleW(HANDLE hFile, LPWSTR lpszFilePath, DWORD cchFilePath, DWORD dwFlags) */
  GetFinalPathNameByHandleW:
    'uint32_t __stdcall GetFinalPathNameByHandleW(void *hFile, void *lpszFilePath, uint32_t cchFilePath, uint32_t dwFlags)',
  /**
   * winbase.h: BOOL GetFileInformationByHandleEx(HANDLE hFile, FILE_INFO_BY_HANDLE_CLASS FileInformationClass,
   * LPVOID lpFileInformation, DWORD dwBufferSize). BOOL is int, the enum an int.
   */
  GetFileInformationByHandleEx:
    'int32_t __stdcall GetFileInformationByHandleEx(void *hFile, int32_t FileInformationClass, void *lpFileInformation, uint32_t dwBufferSize)',
  /** errhandlingapi.h: DWORD GetLastError(void) */
  GetLastError: 'uint32_t __stdcall GetLastError()',
  /**
   * uv.h: UV_EXTERN uv_os_fd_t uv_get_osfhandle(int fd), exported by node.exe. uv_os_fd_t is a HANDLE; it is
   * declared intptr_t so INVALID_HANDLE_VALUE arrives as -1 rather than as 2^64 - 1 (same register, same ABI).
   */
  uv_get_osfhandle: 'intptr_t uv_get_osfhandle(int fd)',
  /** lmaccess.h: NTSTATUS NetQueryServiceAccount(LPWSTR ServerName, LPWSTR AccountName, DWORD InfoLevel, PBYTE *Buffer) */
  NetQueryServiceAccount:
    'int32_t __stdcall NetQueryServiceAccount(const char16_t *ServerName, const char16_t *AccountName, uint32_t InfoLevel, _Out_ void **Buffer)',
  /** lmapibuf.h: NET_API_STATUS NetApiBufferFree(LPVOID Buffer) */
  NetApiBufferFree: 'uint32_t __stdcall NetApiBufferFree(void *Buffer)',
  /**
   * jobapi2.h: HANDLE CreateJobObjectW(LPSECURITY_ATTRIBUTES lpJobAttributes, LPCWSTR lpName). Both NULL: default
   * security, a handle that is not inherited (so no child can keep the job alive), and no name to squat on.
   * Handles are `void *`, which koffi gives as a BigInt (null for NULL).
   */
  CreateJobObjectW: 'void *__stdcall CreateJobObjectW(void *lpJobAttributes, const char16_t *lpName)',
  /**
   * jobapi2.h: BOOL SetInformationJobObject(HANDLE hJob, JOBOBJECTINFOCLASS JobObjectInformationClass,
   * LPVOID lpJobObjectInformation, DWORD cbJobObjectInformationLength). The enum is an int.
   */
  SetInformationJobObject:
    'int32_t __stdcall SetInformationJobObject(void *hJob, int32_t JobObjectInformationClass, void *lpJobObjectInformation, uint32_t cbJobObjectInformationLength)',
  /** jobapi2.h: BOOL AssignProcessToJobObject(HANDLE hJob, HANDLE hProcess) */
  AssignProcessToJobObject: 'int32_t __stdcall AssignProcessToJobObject(void *hJob, void *hProcess)',
  /** jobapi2.h: BOOL TerminateJobObject(HANDLE hJob, UINT uExitCode) */
  TerminateJobObject: 'int32_t __stdcall TerminateJobObject(void *hJob, uint32_t uExitCode)',
  /** processthreadsapi.h: HANDLE OpenProcess(DWORD dwDesiredAccess, BOOL bInheritHandle, DWORD dwProcessId) */
  OpenProcess: 'void *__stdcall OpenProcess(uint32_t dwDesiredAccess, int32_t bInheritHandle, uint32_t dwProcessId)',
  /**
   * processthreadsapi.h: BOOL GetProcessTimes(HANDLE hProcess, LPFILETIME lpCreationTime, LPFILETIME lpExitTime,
   * LPFILETIME lpKernelTime, LPFILETIME lpUserTime). Each FILETIME is an 8-byte caller Buffer Windows writes into.
   */
  GetProcessTimes:
    'int32_t __stdcall GetProcessTimes(void *hProcess, void *lpCreationTime, void *lpExitTime, void *lpKernelTime, void *lpUserTime)',
  /** processthreadsapi.h: BOOL GetExitCodeProcess(HANDLE hProcess, LPDWORD lpExitCode) */
  GetExitCodeProcess: 'int32_t __stdcall GetExitCodeProcess(void *hProcess, _Out_ uint32_t *lpExitCode)',
  /** processthreadsapi.h: BOOL TerminateProcess(HANDLE hProcess, UINT uExitCode) */
  TerminateProcess: 'int32_t __stdcall TerminateProcess(void *hProcess, uint32_t uExitCode)',
  /** handleapi.h: BOOL CloseHandle(HANDLE hObject) */
  CloseHandle: 'int32_t __stdcall CloseHandle(void *hObject)',
  /** synchapi.h: DWORD WaitForSingleObject(HANDLE hHandle, DWORD dwMilliseconds) */
  WaitForSingleObject: 'uint32_t __stdcall WaitForSingleObject(void *hHandle, uint32_t dwMilliseconds)',
  /**
   * computenetwork.h: HRESULT WINAPI HcnEnumerateEndpoints(PCWSTR Query, PWSTR *Endpoints, PWSTR *ErrorRecord).
   * Every PWSTR an HCN function hands back is CoTaskMemAlloc'd, so each output string is `_Out_ void **`: the
   * address comes back, is read, and is then freed with CoTaskMemFree. A `char16_t **` output would be decoded
   * by koffi and its address lost, leaking the string. koffi zero-fills `_Out_` slots, so an ErrorRecord HNS
   * leaves unwritten reads as NULL.
   */
  HcnEnumerateEndpoints:
    'int32_t __stdcall HcnEnumerateEndpoints(const char16_t *Query, _Out_ void **Endpoints, _Out_ void **ErrorRecord)',
  /** computenetwork.h: HRESULT WINAPI HcnOpenEndpoint(REFGUID Id, PHCN_ENDPOINT Endpoint, PWSTR *ErrorRecord). REFGUID is a pointer to the 16 GUID bytes (hns.ts encodeGuid). */
  HcnOpenEndpoint: 'int32_t __stdcall HcnOpenEndpoint(void *Id, _Out_ void **Endpoint, _Out_ void **ErrorRecord)',
  /** computenetwork.h: HRESULT WINAPI HcnQueryEndpointProperties(HCN_ENDPOINT Endpoint, PCWSTR Query, PWSTR *Properties, PWSTR *ErrorRecord). HCN_ENDPOINT is a void *. */
  HcnQueryEndpointProperties:
    'int32_t __stdcall HcnQueryEndpointProperties(void *Endpoint, const char16_t *Query, _Out_ void **Properties, _Out_ void **ErrorRecord)',
  /** computenetwork.h: HRESULT WINAPI HcnModifyEndpoint(HCN_ENDPOINT Endpoint, PCWSTR Settings, PWSTR *ErrorRecord) */
  HcnModifyEndpoint: 'int32_t __stdcall HcnModifyEndpoint(void *Endpoint, const char16_t *Settings, _Out_ void **ErrorRecord)',
  /** computenetwork.h: HRESULT WINAPI HcnCloseEndpoint(HCN_ENDPOINT Endpoint) */
  HcnCloseEndpoint: 'int32_t __stdcall HcnCloseEndpoint(void *Endpoint)',
  /** computenetwork.h: HRESULT WINAPI HcnEnumerateNamespaces(PCWSTR Query, PWSTR *Namespaces, PWSTR *ErrorRecord) */
  HcnEnumerateNamespaces:
    'int32_t __stdcall HcnEnumerateNamespaces(const char16_t *Query, _Out_ void **Namespaces, _Out_ void **ErrorRecord)',
  /** computenetwork.h: HRESULT WINAPI HcnOpenNamespace(REFGUID Id, PHCN_NAMESPACE Namespace, PWSTR *ErrorRecord) */
  HcnOpenNamespace: 'int32_t __stdcall HcnOpenNamespace(void *Id, _Out_ void **Namespace, _Out_ void **ErrorRecord)',
  /** computenetwork.h: HRESULT WINAPI HcnQueryNamespaceProperties(HCN_NAMESPACE Namespace, PCWSTR Query, PWSTR *Properties, PWSTR *ErrorRecord) */
  HcnQueryNamespaceProperties:
    'int32_t __stdcall HcnQueryNamespaceProperties(void *Namespace, const char16_t *Query, _Out_ void **Properties, _Out_ void **ErrorRecord)',
  /** computenetwork.h: HRESULT WINAPI HcnCloseNamespace(HCN_NAMESPACE Namespace) */
  HcnCloseNamespace: 'int32_t __stdcall HcnCloseNamespace(void *Namespace)',
  /** combaseapi.h: void CoTaskMemFree(LPVOID pv), exported by ole32.dll. */
  CoTaskMemFree: 'void __stdcall CoTaskMemFree(void *pv)',
  /**
   * winbase.h: BOOL LookupAccountNameW(LPCWSTR lpSystemName, LPCWSTR lpAccountName, PSID Sid, LPDWORD cbSid,
   * LPWSTR ReferencedDomainName, LPDWORD cchReferencedDomainName, PSID_NAME_USE peUse). The SID and domain buffers
   * are caller Buffers Windows writes into; SID_NAME_USE is an enum (int).
   */
  LookupAccountNameW:
    'int32_t __stdcall LookupAccountNameW(const char16_t *lpSystemName, const char16_t *lpAccountName, void *Sid, _Inout_ uint32_t *cbSid, void *ReferencedDomainName, _Inout_ uint32_t *cchReferencedDomainName, _Out_ int32_t *peUse)',
  /** sddl.h: BOOL ConvertSidToStringSidW(PSID Sid, LPWSTR *StringSid); the string is LocalAlloc'd, so its address comes back. */
  ConvertSidToStringSidW: 'int32_t __stdcall ConvertSidToStringSidW(void *Sid, _Out_ void **StringSid)',
  /**
   * sddl.h: BOOL ConvertStringSecurityDescriptorToSecurityDescriptorW(LPCWSTR StringSecurityDescriptor,
   * DWORD StringSDRevision, PSECURITY_DESCRIPTOR *SecurityDescriptor, PULONG SecurityDescriptorSize). The descriptor
   * is LocalAlloc'd (self-relative); the size pointer is optional and passed NULL.
   */
  ConvertStringSecurityDescriptorToSecurityDescriptorW:
    'int32_t __stdcall ConvertStringSecurityDescriptorToSecurityDescriptorW(const char16_t *StringSecurityDescriptor, uint32_t StringSDRevision, _Out_ void **SecurityDescriptor, uint32_t *SecurityDescriptorSize)',
  /** securitybaseapi.h: BOOL GetSecurityDescriptorDacl(PSECURITY_DESCRIPTOR pSecurityDescriptor, LPBOOL lpbDaclPresent, PACL *pDacl, LPBOOL lpbDaclDefaulted). The ACL points into the descriptor. */
  GetSecurityDescriptorDacl:
    'int32_t __stdcall GetSecurityDescriptorDacl(void *pSecurityDescriptor, _Out_ int32_t *lpbDaclPresent, _Out_ void **pDacl, _Out_ int32_t *lpbDaclDefaulted)',
  /**
   * aclapi.h: DWORD SetNamedSecurityInfoW(LPWSTR pObjectName, SE_OBJECT_TYPE ObjectType, SECURITY_INFORMATION
   * SecurityInfo, PSID psidOwner, PSID psidGroup, PACL pDacl, PACL pSacl). Returns a Win32 error code, not a BOOL.
   * Windows does not write to pObjectName, so the const koffi conversion is safe.
   */
  SetNamedSecurityInfoW:
    'uint32_t __stdcall SetNamedSecurityInfoW(const char16_t *pObjectName, int32_t ObjectType, uint32_t SecurityInfo, void *psidOwner, void *psidGroup, void *pDacl, void *pSacl)',
  /**
   * aclapi.h: DWORD GetNamedSecurityInfoW(LPCWSTR pObjectName, SE_OBJECT_TYPE ObjectType, SECURITY_INFORMATION
   * SecurityInfo, PSID *ppsidOwner, PSID *ppsidGroup, PACL *ppDacl, PACL *ppSacl, PSECURITY_DESCRIPTOR
   * *ppSecurityDescriptor). The descriptor is LocalAlloc'd; the DACL pointer points into it.
   */
  GetNamedSecurityInfoW:
    'uint32_t __stdcall GetNamedSecurityInfoW(const char16_t *pObjectName, int32_t ObjectType, uint32_t SecurityInfo, void **ppsidOwner, void **ppsidGroup, _Out_ void **ppDacl, void **ppSacl, _Out_ void **ppSecurityDescriptor)',
  /**
   * sddl.h: BOOL ConvertSecurityDescriptorToStringSecurityDescriptorW(PSECURITY_DESCRIPTOR SecurityDescriptor,
   * DWORD RequestedStringSDRevision, SECURITY_INFORMATION SecurityInformation, LPWSTR *StringSecurityDescriptor,
   * PULONG StringSecurityDescriptorLen). The string is LocalAlloc'd; the length pointer is optional.
   */
  ConvertSecurityDescriptorToStringSecurityDescriptorW:
    'int32_t __stdcall ConvertSecurityDescriptorToStringSecurityDescriptorW(void *SecurityDescriptor, uint32_t RequestedStringSDRevision, uint32_t SecurityInformation, _Out_ void **StringSecurityDescriptor, uint32_t *StringSecurityDescriptorLen)',
  /** winbase.h: HLOCAL LocalFree(HLOCAL hMem) */
  LocalFree: 'void *__stdcall LocalFree(void *hMem)',
  /**
   * winsvc.h: BOOL StartServiceCtrlDispatcherW(const SERVICE_TABLE_ENTRYW *lpServiceStartTable). The table is a
   * caller Buffer (layout.ts SERVICE_TABLE_ENTRYW); the call returns only when every service of the process has
   * stopped, so it runs on a koffi worker thread.
   */
  StartServiceCtrlDispatcherW: 'int32_t __stdcall StartServiceCtrlDispatcherW(void *lpServiceStartTable)',
  /**
   * winsvc.h: SERVICE_STATUS_HANDLE RegisterServiceCtrlHandlerExW(LPCWSTR lpServiceName, LPHANDLER_FUNCTION_EX
   * lpHandlerProc, LPVOID lpContext). The handler is a koffi.register'ed HandlerEx, passed as its address.
   */
  RegisterServiceCtrlHandlerExW:
    'void *__stdcall RegisterServiceCtrlHandlerExW(const char16_t *lpServiceName, void *lpHandlerProc, void *lpContext)',
  /** winsvc.h: BOOL SetServiceStatus(SERVICE_STATUS_HANDLE hServiceStatus, LPSERVICE_STATUS lpServiceStatus); the status is a 28-byte caller Buffer. */
  SetServiceStatus: 'int32_t __stdcall SetServiceStatus(void *hServiceStatus, void *lpServiceStatus)',
  /** Used by the interrupt helper in its own process (processes.ts), never loaded into the broker. */
  ...CONSOLE_PROTOTYPES,
} as const;

/**
 * Functions Windows calls into the broker, for koffi.register. Both are called on threads the service control
 * dispatcher owns; koffi relays such calls to the event-loop thread and blocks the calling thread until the JS
 * function has returned (koffi docs, "Asynchronous callbacks"), so their return values reach Windows.
 */
export const CALLBACK_PROTOTYPES = {
  /** winsvc.h: VOID WINAPI ServiceMain(DWORD dwNumServicesArgs, LPWSTR *lpServiceArgVectors) */
  ServiceMainW: 'void __stdcall ServiceMainW(uint32_t dwNumServicesArgs, void *lpServiceArgVectors)',
  /** winsvc.h: DWORD WINAPI HandlerEx(DWORD dwControl, DWORD dwEventType, LPVOID lpEventData, LPVOID lpContext) */
  HandlerEx: 'uint32_t __stdcall HandlerEx(uint32_t dwControl, uint32_t dwEventType, void *lpEventData, void *lpContext)',
} as const;

type KoffiFunction = ReturnType<LibraryHandle['func']>;

interface IpHelper {
  GetAdaptersAddresses: KoffiFunction;
  GetIpForwardTable2: KoffiFunction;
  FreeMibTable: KoffiFunction;
}

interface Advapi {
  RegGetValueW: KoffiFunction;
  RegOpenKeyExW: KoffiFunction;
  RegQueryInfoKeyW: KoffiFunction;
  RegEnumValueW: KoffiFunction;
  RegCloseKey: KoffiFunction;
}

interface FileApi {
  GetFinalPathNameByHandleW: KoffiFunction;
  GetFileInformationByHandleEx: KoffiFunction;
  GetLastError: KoffiFunction;
  uv_get_osfhandle: KoffiFunction;
}

interface ServiceAccountApi {
  NetQueryServiceAccount: KoffiFunction;
  NetApiBufferFree: KoffiFunction;
}

interface ProcessApi {
  CreateJobObjectW: KoffiFunction;
  SetInformationJobObject: KoffiFunction;
  AssignProcessToJobObject: KoffiFunction;
  TerminateJobObject: KoffiFunction;
  OpenProcess: KoffiFunction;
  GetProcessTimes: KoffiFunction;
  GetExitCodeProcess: KoffiFunction;
  TerminateProcess: KoffiFunction;
  CloseHandle: KoffiFunction;
  WaitForSingleObject: KoffiFunction;
  GetLastError: KoffiFunction;
}

interface HcnApi {
  HcnEnumerateEndpoints: KoffiFunction;
  HcnOpenEndpoint: KoffiFunction;
  HcnQueryEndpointProperties: KoffiFunction;
  HcnModifyEndpoint: KoffiFunction;
  HcnCloseEndpoint: KoffiFunction;
  HcnEnumerateNamespaces: KoffiFunction;
  HcnOpenNamespace: KoffiFunction;
  HcnQueryNamespaceProperties: KoffiFunction;
  HcnCloseNamespace: KoffiFunction;
  CoTaskMemFree: KoffiFunction;
}

let ipHelper: IpHelper | undefined;
let advapi: Advapi | undefined;
let fileApi: FileApi | undefined;
let serviceAccountApi: ServiceAccountApi | undefined;
let processApi: ProcessApi | undefined;
let hcnApi: HcnApi | undefined;
let securityApi: SecurityFns | undefined;
let serviceApi: ServiceFns | undefined;

/** The offsets in layout.ts are the 64-bit ones; a 32-bit process would read every structure wrongly. */
function assert64Bit(): void {
  if (koffi.sizeof('void *') !== X64.pointerSize) {
    throw new Error('the Windows backend supports 64-bit processes only (x64, arm64)');
  }
}

/**
 * iphlpapi.dll is not a KnownDLL, so a bare name would be searched for next to node.exe first; the broker runs
 * privileged, so it names the System32 copy outright.
 */
function loadSystemLibrary(name: string): LibraryHandle {
  assert64Bit();
  return koffi.load(path.win32.join(process.env.SystemRoot ?? 'C:\\Windows', 'System32', name));
}

function loadIpHelper(): IpHelper {
  if (!ipHelper) {
    const lib = loadSystemLibrary('iphlpapi.dll');
    ipHelper = {
      GetAdaptersAddresses: lib.func(PROTOTYPES.GetAdaptersAddresses),
      GetIpForwardTable2: lib.func(PROTOTYPES.GetIpForwardTable2),
      FreeMibTable: lib.func(PROTOTYPES.FreeMibTable),
    };
  }
  return ipHelper;
}

function loadAdvapi(): Advapi {
  if (!advapi) {
    const lib = loadSystemLibrary('advapi32.dll');
    advapi = {
      RegGetValueW: lib.func(PROTOTYPES.RegGetValueW),
      RegOpenKeyExW: lib.func(PROTOTYPES.RegOpenKeyExW),
      RegQueryInfoKeyW: lib.func(PROTOTYPES.RegQueryInfoKeyW),
      RegEnumValueW: lib.func(PROTOTYPES.RegEnumValueW),
      RegCloseKey: lib.func(PROTOTYPES.RegCloseKey),
    };
  }
  return advapi;
}

/**
 * Node's fs descriptors are C-runtime descriptors of the CRT linked statically into node.exe (/MT): libuv opens
 * with CreateFileW and registers the HANDLE with that CRT's _open_osfhandle. ucrtbase.dll's _get_osfhandle
 * keeps a separate table, so it would not know the descriptor, and its invalid-parameter handler (not the one
 * libuv installs in node's CRT) would end the process. node.exe exports libuv, including uv_get_osfhandle,
 * which asks node's own CRT; koffi.load(null) is the running executable (GetModuleHandle(NULL)) and is never
 * unloaded.
 */
function loadFileApi(): FileApi {
  if (!fileApi) {
    const kernel32 = loadSystemLibrary('kernel32.dll');
    const node = koffi.load(null);
    fileApi = {
      GetFinalPathNameByHandleW: kernel32.func(PROTOTYPES.GetFinalPathNameByHandleW),
      GetFileInformationByHandleEx: kernel32.func(PROTOTYPES.GetFileInformationByHandleEx),
      GetLastError: kernel32.func(PROTOTYPES.GetLastError),
      uv_get_osfhandle: node.func(PROTOTYPES.uv_get_osfhandle),
    };
  }
  return fileApi;
}

/**
 * NetQueryServiceAccount is taken from logoncli.dll, where Microsoft's ActiveDirectory module
 * (Test-ADServiceAccount) imports it from; MSDN's page names Netapi32.dll, but its sibling functions' pages say
 * to load them from Logoncli.dll. The buffer it returns is freed with netapi32's NetApiBufferFree, as documented.
 */
function loadServiceAccountApi(): ServiceAccountApi {
  if (!serviceAccountApi) {
    const logoncli = loadSystemLibrary('logoncli.dll');
    const netapi32 = loadSystemLibrary('netapi32.dll');
    serviceAccountApi = {
      NetQueryServiceAccount: logoncli.func(PROTOTYPES.NetQueryServiceAccount),
      NetApiBufferFree: netapi32.func(PROTOTYPES.NetApiBufferFree),
    };
  }
  return serviceAccountApi;
}

function loadProcessApi(): ProcessApi {
  if (!processApi) {
    const kernel32 = loadSystemLibrary('kernel32.dll');
    processApi = {
      CreateJobObjectW: kernel32.func(PROTOTYPES.CreateJobObjectW),
      SetInformationJobObject: kernel32.func(PROTOTYPES.SetInformationJobObject),
      AssignProcessToJobObject: kernel32.func(PROTOTYPES.AssignProcessToJobObject),
      TerminateJobObject: kernel32.func(PROTOTYPES.TerminateJobObject),
      OpenProcess: kernel32.func(PROTOTYPES.OpenProcess),
      GetProcessTimes: kernel32.func(PROTOTYPES.GetProcessTimes),
      GetExitCodeProcess: kernel32.func(PROTOTYPES.GetExitCodeProcess),
      TerminateProcess: kernel32.func(PROTOTYPES.TerminateProcess),
      CloseHandle: kernel32.func(PROTOTYPES.CloseHandle),
      WaitForSingleObject: kernel32.func(PROTOTYPES.WaitForSingleObject),
      GetLastError: kernel32.func(PROTOTYPES.GetLastError),
    };
  }
  return processApi;
}

/**
 * computenetwork.dll exists where the Containers feature is installed (Windows Server 2019 / 1809 and later);
 * loading it is deferred to the first proxy request, so hosts without it fail only there.
 */
function loadHcnApi(): HcnApi {
  if (!hcnApi) {
    const computenetwork = loadSystemLibrary('computenetwork.dll');
    const ole32 = loadSystemLibrary('ole32.dll');
    hcnApi = {
      HcnEnumerateEndpoints: computenetwork.func(PROTOTYPES.HcnEnumerateEndpoints),
      HcnOpenEndpoint: computenetwork.func(PROTOTYPES.HcnOpenEndpoint),
      HcnQueryEndpointProperties: computenetwork.func(PROTOTYPES.HcnQueryEndpointProperties),
      HcnModifyEndpoint: computenetwork.func(PROTOTYPES.HcnModifyEndpoint),
      HcnCloseEndpoint: computenetwork.func(PROTOTYPES.HcnCloseEndpoint),
      HcnEnumerateNamespaces: computenetwork.func(PROTOTYPES.HcnEnumerateNamespaces),
      HcnOpenNamespace: computenetwork.func(PROTOTYPES.HcnOpenNamespace),
      HcnQueryNamespaceProperties: computenetwork.func(PROTOTYPES.HcnQueryNamespaceProperties),
      HcnCloseNamespace: computenetwork.func(PROTOTYPES.HcnCloseNamespace),
      CoTaskMemFree: ole32.func(PROTOTYPES.CoTaskMemFree),
    };
  }
  return hcnApi;
}

function loadSecurityApi(): SecurityFns {
  if (!securityApi) {
    const advapi32 = loadSystemLibrary('advapi32.dll');
    const kernel32 = loadSystemLibrary('kernel32.dll');
    securityApi = {
      LookupAccountNameW: advapi32.func(PROTOTYPES.LookupAccountNameW),
      ConvertSidToStringSidW: advapi32.func(PROTOTYPES.ConvertSidToStringSidW),
      ConvertStringSecurityDescriptorToSecurityDescriptorW: advapi32.func(PROTOTYPES.ConvertStringSecurityDescriptorToSecurityDescriptorW),
      GetSecurityDescriptorDacl: advapi32.func(PROTOTYPES.GetSecurityDescriptorDacl),
      SetNamedSecurityInfoW: advapi32.func(PROTOTYPES.SetNamedSecurityInfoW),
      GetNamedSecurityInfoW: advapi32.func(PROTOTYPES.GetNamedSecurityInfoW),
      ConvertSecurityDescriptorToStringSecurityDescriptorW: advapi32.func(PROTOTYPES.ConvertSecurityDescriptorToStringSecurityDescriptorW),
      LocalFree: kernel32.func(PROTOTYPES.LocalFree),
      GetLastError: kernel32.func(PROTOTYPES.GetLastError),
    } as unknown as SecurityFns;
  }
  return securityApi;
}

function loadServiceApi(): ServiceFns {
  if (!serviceApi) {
    const advapi32 = loadSystemLibrary('advapi32.dll');
    const kernel32 = loadSystemLibrary('kernel32.dll');
    const dispatcher = advapi32.func(PROTOTYPES.StartServiceCtrlDispatcherW);
    const getLastError = kernel32.func(PROTOTYPES.GetLastError);
    const serviceMain = koffi.pointer(koffi.proto(CALLBACK_PROTOTYPES.ServiceMainW));
    const handlerEx = koffi.pointer(koffi.proto(CALLBACK_PROTOTYPES.HandlerEx));
    serviceApi = {
      // GetLastError is read in the completion callback, where koffi has restored the worker thread's value.
      StartServiceCtrlDispatcherW: (table) =>
        new Promise((resolve, reject) =>
          dispatcher.async(table, (error: unknown, result: unknown) =>
            error ? reject(error) : resolve({ result, lastError: (result as number) === 0 ? (getLastError() as number) : 0 }),
          ),
        ),
      RegisterServiceCtrlHandlerExW: advapi32.func(PROTOTYPES.RegisterServiceCtrlHandlerExW),
      SetServiceStatus: advapi32.func(PROTOTYPES.SetServiceStatus),
      GetLastError: getLastError,
      registerServiceMain: (fn) => koffi.register(fn, serviceMain),
      registerHandlerEx: (fn) => koffi.register(fn, handlerEx),
      unregister: (callback) => koffi.unregister(callback),
      address: (buffer) => koffi.address(buffer),
    } as ServiceFns;
  }
  return serviceApi;
}

/** Reads process memory by address through koffi; for memory the OS owns and we do not copy first. */
export const koffiMemory: NativeMemory = {
  u8: (address) => koffi.decode.uint8(checked(address)),
  u16: (address) => koffi.decode.uint16(checked(address)),
  u32: (address) => koffi.decode.uint32(checked(address)),
  u64: (address) => BigInt(koffi.decode.uint64(checked(address))),
  pointer: (address) => BigInt(koffi.decode.uint64(checked(address))),
  bytes: (address, length) => new Uint8Array(koffi.view(checked(address), length)).slice(),
  wstring: (address) => koffi.decode.string16(checked(address)),
  cstring: (address) => koffi.decode.string(checked(address)),
};

function checked(address: bigint): bigint {
  // koffi would dereference NULL and take the process down; an exception is recoverable.
  if (address === 0n) throw new RangeError('read through a NULL pointer');
  return address;
}

export const regGetValue: RegGetValueCall = (subKey, valueName, flags, data, size) =>
  loadAdvapi().RegGetValueW(HKEY_LOCAL_MACHINE, subKey, valueName, flags, null, data, size) as number;

export function fileCalls(): FileCalls {
  const { GetFinalPathNameByHandleW, GetFileInformationByHandleEx, GetLastError, uv_get_osfhandle } = loadFileApi();
  return fileCallsWith(uv_get_osfhandle, GetFinalPathNameByHandleW, GetFileInformationByHandleEx, GetLastError);
}

export function registryKeyCalls(): RegistryKeyCalls {
  const { RegOpenKeyExW, RegQueryInfoKeyW, RegEnumValueW, RegCloseKey } = loadAdvapi();
  return registryKeyCallsWith(RegOpenKeyExW, RegQueryInfoKeyW, RegEnumValueW, RegCloseKey);
}

/**
 * NetQueryServiceAccount may ask a domain controller, and an unreachable one takes seconds to time out, so it
 * runs on a koffi worker thread (`.async`) instead of blocking every other caller on the event loop.
 */
export function queryServiceAccount(accountName: string): Promise<ServiceAccountQuery> {
  const { NetQueryServiceAccount, NetApiBufferFree } = loadServiceAccountApi();
  const query: NetQueryServiceAccountFn = (server, account, level, buffer) =>
    new Promise((resolve, reject) =>
      NetQueryServiceAccount.async(server, account, level, buffer, (error: unknown, status: unknown) =>
        error ? reject(error) : resolve(status),
      ),
    );
  return queryServiceAccountWith(query, NetApiBufferFree, koffiMemory, accountName);
}

export function processCalls(): ProcessCalls {
  const api = loadProcessApi();
  const { WaitForSingleObject } = api;
  return processCallsWith({
    ...api,
    // Waiting blocks the calling thread for up to `ms`, so it runs on a koffi worker thread.
    WaitForSingleObject: (handle, ms) =>
      new Promise((resolve, reject) =>
        WaitForSingleObject.async(handle, ms, (error: unknown, result: unknown) => (error ? reject(error) : resolve(result))),
      ),
  });
}

/** A koffi function run on a worker thread (`.async`), as a promise of its result. */
export function onWorkerThread(fn: { async: (...args: unknown[]) => void }): (...args: unknown[]) => Promise<unknown> {
  return (...args) =>
    new Promise((resolve, reject) => fn.async(...args, (error: unknown, result: unknown) => (error ? reject(error) : resolve(result))));
}

/**
 * The HCN endpoint and namespace calls. Each is an RPC into the HNS service, which can take seconds when HNS is
 * busy programming the vSwitch, so all of them (closing included) run on koffi worker threads; CoTaskMemFree
 * and the string reads are local and stay on the event loop.
 */
export function hnsCalls(): HcnCalls {
  const api = loadHcnApi();
  const run = onWorkerThread;
  return {
    HcnEnumerateEndpoints: run(api.HcnEnumerateEndpoints),
    HcnOpenEndpoint: run(api.HcnOpenEndpoint),
    HcnQueryEndpointProperties: run(api.HcnQueryEndpointProperties),
    HcnModifyEndpoint: run(api.HcnModifyEndpoint),
    HcnCloseEndpoint: run(api.HcnCloseEndpoint),
    HcnEnumerateNamespaces: run(api.HcnEnumerateNamespaces),
    HcnOpenNamespace: run(api.HcnOpenNamespace),
    HcnQueryNamespaceProperties: run(api.HcnQueryNamespaceProperties),
    HcnCloseNamespace: run(api.HcnCloseNamespace),
    CoTaskMemFree: (memory) => api.CoTaskMemFree(memory),
    readWideString: (address) => koffiMemory.wstring(address),
  };
}

/**
 * CTRL+C to the console of `pid` through the helper in processes.ts. The helper loads the broker's own koffi by
 * resolved path, kernel32 by full System32 path, and runs on the broker's node.exe.
 */
export function interruptConsole(pid: number): Promise<boolean> {
  assert64Bit();
  const systemRoot = process.env.SystemRoot ?? 'C:\\Windows';
  return interruptConsoleWith(
    runHelper,
    {
      node: process.execPath,
      koffi: createRequire(import.meta.url).resolve('koffi'),
      kernel32: path.win32.join(systemRoot, 'System32', 'kernel32.dll'),
      systemRoot,
      brokerPid: process.pid,
    },
    pid,
  );
}

/** advapi32's account, SDDL and named-security calls and kernel32's LocalFree, for the listener's pipe DACL. */
export function pipeSecurityCalls(): PipeSecurityCalls {
  return pipeSecurityCallsWith(loadSecurityApi(), koffiMemory);
}

/** The service control dispatcher's calls (StartServiceCtrlDispatcherW on a worker thread) and koffi's callback registry. */
export function serviceControlCalls(): ServiceControlCalls {
  return serviceControlCallsWith(loadServiceApi());
}

export function readAdapters(): RawAdapter[] {
  return readAdaptersWith(loadIpHelper().GetAdaptersAddresses);
}

export function readRoutes(): RawRoute[] {
  const { GetIpForwardTable2, FreeMibTable } = loadIpHelper();
  return readRoutesWith(GetIpForwardTable2, FreeMibTable);
}

/** The koffi-call shapes of the iphlpapi functions, so tests can run the glue below with stand-ins on Linux. */
export type GetAdaptersAddressesFn = (
  family: number,
  flags: number,
  reserved: null,
  buffer: Buffer,
  size: [number],
) => unknown;
export type GetIpForwardTable2Fn = (family: number, table: [unknown]) => unknown;
export type FreeMibTableFn = (memory: bigint) => unknown;

export function readAdaptersWith(getAdaptersAddresses: GetAdaptersAddressesFn): RawAdapter[] {
  const buffer = fetchAdapterBuffer(
    (target, size) => getAdaptersAddresses(AF_UNSPEC, ADAPTER_FLAGS, null, target, size) as number,
  );
  if (!buffer) return [];
  // The list and everything it points to live inside `buffer`, so bounds-checked reads of it see it all.
  const memory = new BufferMemory(buffer, koffi.address(buffer));
  return parseAdapterList(memory, memory.base);
}

export function readRoutesWith(getIpForwardTable2: GetIpForwardTable2Fn, freeMibTable: FreeMibTableFn): RawRoute[] {
  const out: [unknown] = [null];
  const status = getIpForwardTable2(AF_UNSPEC, out) as number;
  if (status === ERROR_NOT_FOUND) return [];
  if (status !== ERROR_SUCCESS) throw win32Failure('GetIpForwardTable2', status);
  const table = out[0] === null || out[0] === undefined ? 0n : BigInt(out[0] as bigint | number);
  if (table === 0n) return [];
  let copy: Buffer;
  try {
    const size = routeTableSize(koffiMemory.u32(table + BigInt(X64.MIB_IPFORWARD_TABLE2.NumEntries)));
    copy = Buffer.from(koffiMemory.bytes(table, size));
  } finally {
    freeMibTable(table);
  }
  // Parsed from a copy mapped at the original address, so the rows stay readable after FreeMibTable.
  return parseRouteTable(new BufferMemory(copy, table), table);
}

/** The koffi-call shapes of the file and registry functions, so tests can run the glue below with stand-ins. */
export type UvGetOsfHandleFn = (fd: number) => unknown;
export type GetFinalPathNameByHandleWFn = (handle: bigint, buffer: Buffer, chars: number, flags: number) => unknown;
export type GetFileInformationByHandleExFn = (handle: bigint, infoClass: number, buffer: Buffer, bytes: number) => unknown;
export type GetLastErrorFn = () => unknown;
export type RegOpenKeyExWFn = (key: bigint, subKey: string, options: number, access: number, result: [unknown]) => unknown;
export type RegQueryInfoKeyWFn = (
  key: bigint,
  className: null,
  classChars: null,
  reserved: null,
  subKeys: null,
  maxSubKeyChars: null,
  maxClassChars: null,
  values: [number],
  maxValueNameChars: [number],
  maxValueBytes: null,
  securityDescriptorBytes: null,
  lastWriteTime: null,
) => unknown;
export type RegEnumValueWFn = (
  key: bigint,
  index: number,
  name: Buffer,
  nameChars: [number],
  reserved: null,
  type: [number],
  data: null,
  dataBytes: null,
) => unknown;
export type RegCloseKeyFn = (key: bigint) => unknown;
export type NetQueryServiceAccountFn = (server: null, accountName: string, level: number, buffer: [unknown]) => unknown | Promise<unknown>;
export type NetApiBufferFreeFn = (buffer: bigint) => unknown;

/**
 * GetLastError is read right after the failing call, before anything else calls into Windows. koffi saves the
 * thread's last-error value after every call and restores it before the next one, so the V8 and libuv work
 * that runs in between cannot overwrite it.
 */
export function fileCallsWith(
  uvGetOsfHandle: UvGetOsfHandleFn,
  getFinalPathNameByHandleW: GetFinalPathNameByHandleWFn,
  getFileInformationByHandleEx: GetFileInformationByHandleExFn,
  getLastError: GetLastErrorFn,
): FileCalls {
  return {
    osfHandle: (fd) => uvGetOsfHandle(fd) as number | bigint,
    getFinalPathNameByHandle(handle, buffer, chars, flags): FinalPathResult {
      const result = getFinalPathNameByHandleW(handle, buffer, chars, flags) as number;
      return { result, lastError: result === 0 ? (getLastError() as number) : 0 };
    },
    getFileInformationByHandleEx(handle, infoClass, buffer) {
      const ok = (getFileInformationByHandleEx(handle, infoClass, buffer, buffer.length) as number) !== 0;
      return { ok, lastError: ok ? 0 : (getLastError() as number) };
    },
  };
}

export function registryKeyCallsWith(
  regOpenKeyExW: RegOpenKeyExWFn,
  regQueryInfoKeyW: RegQueryInfoKeyWFn,
  regEnumValueW: RegEnumValueWFn,
  regCloseKey: RegCloseKeyFn,
): RegistryKeyCalls {
  return {
    openKey: (subKey, access, key) => regOpenKeyExW(HKEY_LOCAL_MACHINE, subKey, 0, access, key) as number,
    queryInfoKey: (key, values, maxValueNameChars) =>
      regQueryInfoKeyW(key, null, null, null, null, null, null, values, maxValueNameChars, null, null, null) as number,
    enumValue: (key, index, name, nameChars, type) =>
      regEnumValueW(key, index, name, nameChars, null, type, null, null) as number,
    closeKey: (key) => regCloseKey(key) as number,
  };
}

/** MSA_INFO_0 at InfoLevel 0: one MSA_INFO_STATE, a 4-byte enum. */
const MSA_INFO_LEVEL_0 = 0;

/**
 * Runs NetQueryServiceAccount and reads MSA_INFO_0.State out of the buffer it allocated. The buffer is freed
 * exactly once whenever one came back, whatever the status, and before the state is used.
 */
export async function queryServiceAccountWith(
  netQueryServiceAccount: NetQueryServiceAccountFn,
  netApiBufferFree: NetApiBufferFreeFn,
  memory: NativeMemory,
  accountName: string,
): Promise<ServiceAccountQuery> {
  const out: [unknown] = [null];
  const status = (await netQueryServiceAccount(null, accountName, MSA_INFO_LEVEL_0, out)) as number;
  const buffer = out[0] === null || out[0] === undefined ? 0n : BigInt(out[0] as bigint | number);
  if (buffer === 0n) return { status, state: null };
  try {
    return { status, state: status === 0 ? memory.u32(buffer) : null };
  } finally {
    netApiBufferFree(buffer);
  }
}

/** The koffi-call shapes of the kernel32 process and job functions, so tests can run the glue with stand-ins. */
export interface Kernel32ProcessFns {
  CreateJobObjectW: (attributes: null, name: null) => unknown;
  SetInformationJobObject: (job: bigint, infoClass: number, info: Buffer, length: number) => unknown;
  AssignProcessToJobObject: (job: bigint, process: bigint) => unknown;
  TerminateJobObject: (job: bigint, exitCode: number) => unknown;
  OpenProcess: (access: number, inherit: number, pid: number) => unknown;
  GetProcessTimes: (process: bigint, creation: Buffer, exit: Buffer, kernel: Buffer, user: Buffer) => unknown;
  GetExitCodeProcess: (process: bigint, code: [number]) => unknown;
  TerminateProcess: (process: bigint, exitCode: number) => unknown;
  CloseHandle: (handle: bigint) => unknown;
  WaitForSingleObject: (handle: bigint, ms: number) => Promise<unknown>;
  GetLastError: () => unknown;
}

/** A `void *` result as a handle: koffi gives a BigInt, or null for NULL. */
function toHandle(raw: unknown): bigint {
  if (raw === null || raw === undefined) return 0n;
  return typeof raw === 'bigint' ? raw : BigInt(raw as number);
}

/** GetLastError is read right after the failing call; see fileCallsWith for why koffi keeps it intact. */
export function processCallsWith(fns: Kernel32ProcessFns): ProcessCalls {
  const lastError = () => fns.GetLastError() as number;
  const handle = (raw: unknown): HandleResult => {
    const value = toHandle(raw);
    return { handle: value, lastError: value === 0n ? lastError() : 0 };
  };
  const call = (result: unknown): CallResult => {
    const ok = (result as number) !== 0;
    return { ok, lastError: ok ? 0 : lastError() };
  };
  return {
    createJobObject: () => handle(fns.CreateJobObjectW(null, null)),
    setInformationJobObject: (job, infoClass, info) => call(fns.SetInformationJobObject(job, infoClass, info, info.length)),
    assignProcessToJobObject: (job, process) => call(fns.AssignProcessToJobObject(job, process)),
    terminateJobObject: (job, exitCode) => call(fns.TerminateJobObject(job, exitCode)),
    // bInheritHandle FALSE: a handle a child could inherit would keep our view of the process alive in it.
    openProcess: (access, pid) => handle(fns.OpenProcess(access, 0, pid)),
    getProcessTimes: (process, creation, exit, kernel, user) => call(fns.GetProcessTimes(process, creation, exit, kernel, user)),
    getExitCodeProcess: (process, code) => call(fns.GetExitCodeProcess(process, code)),
    terminateProcess: (process, exitCode) => call(fns.TerminateProcess(process, exitCode)),
    closeHandle: (value) => call(fns.CloseHandle(value)),
    waitForSingleObject: async (value, ms) => ((await fns.WaitForSingleObject(value, ms)) as number) >>> 0,
  };
}

/** The koffi-call shapes of the security functions, so tests can run the glue below with stand-ins. */
export interface SecurityFns {
  LookupAccountNameW: (system: null, name: string, sid: Buffer, sidBytes: [number], domain: Buffer, domainChars: [number], use: [number]) => unknown;
  ConvertSidToStringSidW: (sid: Buffer, out: [unknown]) => unknown;
  ConvertStringSecurityDescriptorToSecurityDescriptorW: (sddl: string, revision: number, out: [unknown], size: null) => unknown;
  GetSecurityDescriptorDacl: (sd: bigint, present: [number], dacl: [unknown], defaulted: [number]) => unknown;
  SetNamedSecurityInfoW: (path: string, objectType: number, info: number, owner: null, group: null, dacl: bigint, sacl: null) => unknown;
  GetNamedSecurityInfoW: (path: string, objectType: number, info: number, owner: null, group: null, dacl: [unknown], sacl: null, sd: [unknown]) => unknown;
  ConvertSecurityDescriptorToStringSecurityDescriptorW: (sd: bigint, revision: number, info: number, out: [unknown], length: null) => unknown;
  LocalFree: (memory: bigint) => unknown;
  GetLastError: () => unknown;
}

/** winnt.h SECURITY_MAX_SID_SIZE; a domain name longer than the first guess is retried at the size Windows asks for. */
const SECURITY_MAX_SID_SIZE = 68;
const ERROR_INSUFFICIENT_BUFFER = 122;

export function pipeSecurityCallsWith(fns: SecurityFns, memory: NativeMemory): PipeSecurityCalls {
  const lastError = () => fns.GetLastError() as number;
  /** A string Windows LocalAlloc'd, read and freed. */
  const takeString = (raw: unknown): string => {
    const address = toHandle(raw);
    try {
      return memory.wstring(address);
    } finally {
      fns.LocalFree(address);
    }
  };
  return {
    lookupAccountName(name) {
      const sid = Buffer.alloc(SECURITY_MAX_SID_SIZE);
      const sidBytes: [number] = [sid.length];
      const domainChars: [number] = [256];
      const use: [number] = [0];
      let ok = (fns.LookupAccountNameW(null, name, sid, sidBytes, Buffer.alloc(domainChars[0] * 2), domainChars, use) as number) !== 0;
      if (!ok) {
        const error = lastError();
        if (error !== ERROR_INSUFFICIENT_BUFFER) return { sid: null, use: 0, lastError: error };
        // The failed call wrote the sizes it needs into sidBytes and domainChars.
        ok = (fns.LookupAccountNameW(null, name, sid, sidBytes, Buffer.alloc(domainChars[0] * 2), domainChars, use) as number) !== 0;
        if (!ok) return { sid: null, use: 0, lastError: lastError() };
      }
      const out: [unknown] = [null];
      if ((fns.ConvertSidToStringSidW(sid, out) as number) === 0) return { sid: null, use: 0, lastError: lastError() };
      return { sid: takeString(out[0]), use: use[0], lastError: 0 };
    },
    stringToSecurityDescriptor(sddl, revision) {
      const out: [unknown] = [null];
      const ok = (fns.ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, revision, out, null) as number) !== 0;
      return ok ? { sd: toHandle(out[0]), lastError: 0 } : { sd: 0n, lastError: lastError() };
    },
    getSecurityDescriptorDacl(sd) {
      const present: [number] = [0];
      const dacl: [unknown] = [null];
      const defaulted: [number] = [0];
      const ok = (fns.GetSecurityDescriptorDacl(sd, present, dacl, defaulted) as number) !== 0;
      return ok ? { ok, present: present[0] !== 0, dacl: toHandle(dacl[0]), lastError: 0 } : { ok, present: false, dacl: 0n, lastError: lastError() };
    },
    setNamedSecurityInfo: (path, objectType, info, dacl) => (fns.SetNamedSecurityInfoW(path, objectType, info, null, null, dacl, null) as number) >>> 0,
    getNamedSecurityInfo(path, objectType, info) {
      const dacl: [unknown] = [null];
      const sd: [unknown] = [null];
      const status = (fns.GetNamedSecurityInfoW(path, objectType, info, null, null, dacl, null, sd) as number) >>> 0;
      return { status, sd: status === 0 ? toHandle(sd[0]) : 0n };
    },
    securityDescriptorToString(sd, revision, info) {
      const out: [unknown] = [null];
      const ok = (fns.ConvertSecurityDescriptorToStringSecurityDescriptorW(sd, revision, info, out, null) as number) !== 0;
      return ok ? { sddl: takeString(out[0]), lastError: 0 } : { sddl: null, lastError: lastError() };
    },
    localFree: (value) => void fns.LocalFree(value),
  };
}

/** The koffi-call shapes of the service functions and of koffi's callback registry, so tests can run the glue with stand-ins. */
export interface ServiceFns {
  StartServiceCtrlDispatcherW: (table: Buffer) => Promise<{ result: unknown; lastError: number }>;
  RegisterServiceCtrlHandlerExW: (name: string, handler: bigint, context: null) => unknown;
  SetServiceStatus: (handle: bigint, status: Buffer) => unknown;
  GetLastError: () => unknown;
  registerServiceMain: (fn: (argc: number, argv: unknown) => void) => bigint;
  registerHandlerEx: (fn: (control: number, eventType: number, eventData: unknown, context: unknown) => number) => bigint;
  unregister: (callback: bigint) => void;
  address: (buffer: Buffer) => bigint;
}

export function serviceControlCallsWith(fns: ServiceFns): ServiceControlCalls {
  const lastError = () => fns.GetLastError() as number;
  return {
    startDispatcher: async (table) => {
      const { result, lastError: error } = await fns.StartServiceCtrlDispatcherW(table);
      return { ok: (result as number) !== 0, lastError: error };
    },
    registerServiceMain: (main) => fns.registerServiceMain((argc) => main(argc)),
    registerHandler(name, handler) {
      const callback = fns.registerHandlerEx((control, eventType) => handler(control >>> 0, eventType >>> 0));
      const handle = toHandle(fns.RegisterServiceCtrlHandlerExW(name, callback, null));
      if (handle === 0n) {
        const error = lastError();
        fns.unregister(callback);
        return { handle, callback: 0n, lastError: error };
      }
      return { handle, callback, lastError: 0 };
    },
    setServiceStatus(handle, status) {
      const ok = (fns.SetServiceStatus(handle, status) as number) !== 0;
      return { ok, lastError: ok ? 0 : lastError() };
    },
    unregister: (callback) => fns.unregister(callback),
    address: (buffer) => fns.address(buffer),
  };
}
