@{
    RootModule           = 'WinsHost.Testing.psm1'
    ModuleVersion        = '0.1.0'
    GUID                 = '6f1d0c8e-2b7a-4f3e-9a55-1c4e8d2b7f90'
    Author               = 'WinsHost contributors'
    CompanyName          = 'WinsHost'
    Copyright            = '(c) WinsHost contributors. MIT License.'
    Description          = 'Test container scripts that use WinsHost without a host: Start-WinsHostTestBroker runs a throw-away WinsHost broker on a temporary pipe with a given policy and a fake platform (recorded adapters, scripted processes, in-memory proxy policies) for Pester suites.'

    # Independent of WinsHost on purpose: a suite imports the WinsHost version it tests, this module only
    # starts and stops the broker and sets $env:WINSHOST_PIPE.
    CompatiblePSEditions = @('Desktop', 'Core')
    PowerShellVersion    = '5.1'

    FunctionsToExport    = @(
        'Get-WinsHostTestAuditLog'
        'Start-WinsHostTestBroker'
        'Stop-WinsHostTestBroker'
    )
    CmdletsToExport      = @()
    AliasesToExport      = @()
    VariablesToExport    = @()

    PrivateData          = @{
        PSData = @{
            Tags         = @('WinsHost', 'Testing', 'Pester', 'Containers', 'Broker', 'PSEdition_Desktop', 'PSEdition_Core')
            ReleaseNotes = 'Initial release: Start-WinsHostTestBroker, Stop-WinsHostTestBroker and Get-WinsHostTestAuditLog.'
        }
    }
}
