@{
    RootModule           = 'WinsHost.psm1'
    ModuleVersion        = '0.1.0'
    GUID                 = '30db9fd6-1bde-47c2-bf0d-8e0819256807'
    Author               = 'WinsHost contributors'
    CompanyName          = 'WinsHost'
    Copyright            = '(c) WinsHost contributors. MIT License.'
    Description          = 'Ask the container host for things through the WinsHost broker: a least-privilege JSON-RPC broker reached over a mounted named pipe (Windows) or Unix socket (Linux).'

    # The module must keep working in Windows PowerShell 5.1 containers (servercore images ship only 5.1).
    CompatiblePSEditions = @('Desktop', 'Core')
    PowerShellVersion    = '5.1'

    FormatsToProcess     = 'WinsHost.Format.ps1xml'

    # The compiled core: the broker connection (framing, JSON) and the session output sink, built from
    # PSModule/WinsHost.Client for netstandard2.0 so the same file loads in 5.1 and 7.
    RequiredAssemblies   = @('bin/WinsHost.Client.dll')

    # Explicit lists: wildcards make PowerShell load the module to discover commands, and export helpers by accident.
    FunctionsToExport    = @(
        'Add-ProxyPolicy'
        'Connect-HostBroker'
        'Disconnect-HostBroker'
        'Enter-HostSession'
        'Exit-HostSession'
        'Get-HostChildItem'
        'Get-HostContent'
        'Get-HostCredentialSpec'
        'Get-HostInfo'
        'Get-HostNetwork'
        'Get-HostProcess'
        'Get-HostRoute'
        'Get-HostSession'
        'Get-ProxyPolicy'
        'Invoke-HostCommand'
        'New-HostSession'
        'Receive-HostProcessOutput'
        'Remove-HostSession'
        'Remove-ProxyPolicy'
        'Start-HostProcess'
        'Stop-HostProcess'
        'Test-HostCredentialSpec'
        'Wait-HostProcess'
    )
    CmdletsToExport      = @()
    AliasesToExport      = @()
    VariablesToExport    = @()

    PrivateData          = @{
        PSData = @{
            Tags         = @('WinsHost', 'Containers', 'Windows', 'Linux', 'Broker', 'JSON-RPC', 'NamedPipe', 'Network', 'Files', 'gMSA', 'CredentialSpec', 'Process', 'Proxy', 'Session', 'Remoting', 'Sidecar', 'ServiceMesh', 'PSEdition_Desktop', 'PSEdition_Core')
            ReleaseNotes = 'Initial release: broker connection, host information, host network adapters and routes, host files (Get-HostChildItem, Get-HostContent), gMSA credential specs (Get-HostCredentialSpec, Test-HostCredentialSpec), host processes (Start-HostProcess, Get-HostProcess, Wait-HostProcess, Receive-HostProcessOutput, Stop-HostProcess), sidecar proxy policies (Add-ProxyPolicy, Get-ProxyPolicy, Remove-ProxyPolicy) and restricted host sessions (New-HostSession, Get-HostSession, Remove-HostSession, Invoke-HostCommand, Enter-HostSession, Exit-HostSession).'
        }
    }
}
